"""The bench's ML_PREDICT peer scores what the job's scorer scores: same Triton, same model, same numbers.

bench.scoring compares the job's scoring path with Flink's own ML_PREDICT (flink-model-triton, wrapped
as bench/peers/ml_predict.py explains); a peer that scored something else, or nothing, would make that
ratio meaningless."""
from __future__ import annotations

import numpy as np

from bench.peers import ml_predict
from jobs import runtime
from riskstream.core import captions as caption_store
from riskstream.io import stack_state as state
from riskstream.io.scoring import SafetyScorer


def test_ml_predict_through_the_wrapped_provider_gives_the_scorers_scores(stack, services):
    captions = sorted({c.text for c in caption_store.load()})[:40]
    env, t_env, _ = runtime.create(extra_jars=tuple(ml_predict.extra_jars()))
    t_env.create_temporary_view("captions", t_env.from_elements([(c,) for c in captions], ["caption"]))
    http_url = f"http://127.0.0.1:{state.load(stack.state_dir)['triton'].details['http_port']}"
    ml_predict.create_model(t_env, "safety_peer", http_url, services.triton.model_name)
    with ml_predict.predict(t_env, "safety_peer", "captions", "caption").execute().collect() as rows:
        predicted = {row[0][0]: list(row[1]) for row in rows}

    scorer = SafetyScorer(services.triton)
    scorer.open()
    try:
        direct = scorer.score(captions)
    finally:
        scorer.close()
    assert sorted(predicted) == captions
    np.testing.assert_allclose(np.array([predicted[c] for c in captions], dtype=np.float32), direct, rtol=1e-6)
