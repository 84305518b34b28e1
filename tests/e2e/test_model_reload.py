"""A model reloaded while the job runs: Triton loads version 2 of the safety model mid-stream, and every row and
verdict names the version that scored its impressions, read from Triton's responses (not once at start).

A Triton of the test's own serves a copy of the model repository in explicit model-control mode; version 2 is a
canary model (tests/e2e/canary_model) whose scores differ from version 1's, so the rows it scored are told apart
by value too. The truth is the order of events: the impressions sent before the load are scored by version 1,
those sent after it (new item ids, so no cached score of version 1 applies) by version 2."""
from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path

import pytest
import tritonclient.grpc as grpcclient

from jobs import runtime
from riskstream.core import paths, schemas
from riskstream.core.config import StackSettings
from riskstream.io import topic_records
from riskstream.io.triton_client import model_info
from riskstream.stack import process, triton
from tests.e2e import reference, store, stream
from udfs import policy as policy_file
from udfs.wire import AvroDecoder, SchemaHistory

MODEL = "safety_text"
CANARY = Path(__file__).parent / "canary_model" / "model.py"


@pytest.fixture
def reloadable_triton(tmp_path):
    """A Triton serving a copy of the model repository (version 1), whose models the test may (re)load."""
    repository = tmp_path / "models"
    shutil.copytree(paths.MODEL_REPOSITORY / MODEL, repository / MODEL, ignore=shutil.ignore_patterns("configs"))
    settings = StackSettings(state_dir=tmp_path / "triton", model_repository=repository, triton_http_port=0,
                             triton_grpc_port=0, triton_metrics_port=0, triton_model_control="explicit")
    record = triton.start(settings, None)
    try:
        yield record.address, repository
    finally:
        process.terminate(record.pid)


def _load_version_2(address: str, repository: Path) -> None:
    (repository / MODEL / "2").mkdir()
    shutil.copy(CANARY, repository / MODEL / "2" / "model.py")
    client = grpcclient.InferenceServerClient(address)
    try:
        client.load_model(MODEL)  # the newest version only (the default version policy): 2 replaces 1
    finally:
        client.close()
    assert model_info(address, MODEL).version == "2"


def _rows(services, job_id: str) -> dict[tuple, dict]:
    rows = store.query(services, "SELECT window_seconds, toUnixTimestamp64Milli(window_start) AS start, surface, "
                                 "region, recommender_model_version AS version, item_category AS category, "
                                 "impressions, scored, unsafe, harm, model_version, scored_by_model_version "
                                 "FROM safety_health FINAL WHERE job_id = {job:String}", job=job_id)
    return {(r["window_seconds"], r["start"], r["surface"], r["region"], r["version"], r["category"]): r for r in rows}


def test_a_model_version_loaded_mid_stream_is_stamped_on_exactly_the_rows_it_scored(services, tmp_path,
                                                                                    reloadable_triton):
    address, repository = reloadable_triton
    live, suffix = stream.own_topics(services, "reload", "impressions_topic", "item_verdicts_topic")
    live = dataclasses.replace(live, triton=dataclasses.replace(services.triton, url=address))
    kafka = live.kafka
    job_id = f"e2e-reload-{suffix}"
    base = int(time.time() * 1000) // stream.MINUTE * stream.MINUTE - 3 * stream.MINUTE
    before = stream.records(61, 600, base)  # two minutes
    after = [{**r, "item_id": f"{r['item_id']}-after"} for r in stream.records(62, 600, base + 2 * stream.MINUTE)]

    started = stream.start_from_first_offsets(live, job_id, tmp_path / "cp")
    try:
        stream.send(live, before)
        stream.wait_processed(live, job_id)
        _load_version_2(address, repository)
        stream.send(live, after)
        stream.wait_processed(live, job_id)
        assert "RUNNING" in str(started.client.get_job_status().result())  # the same job throughout
    finally:
        runtime.drain(started.client, tmp_path / "savepoints")

    # The reference: version 1's scores asked of the stack's Triton (the same model), version 2's by definition.
    policy = policy_file.load(paths.REPO_ROOT / "policies" / "default.toml")
    scores_1, categories = reference.model_scores(services, before)
    canary = [0.0] * (len(categories) - 1) + [1.0]
    scores_2 = [None if r["caption"] is None else canary for r in after]
    positions = [(0, 0)] * max(len(before), len(after))
    by_version = {"1": reference.expected_rows(before, scores_1, positions, policy.thresholds, categories),
                  "2": reference.expected_rows(after, scores_2, positions, policy.thresholds, categories)}
    expected: dict[tuple, dict] = {}
    for version, rows in by_version.items():
        for key, want in rows.items():
            total = expected.setdefault(key, {"impressions": 0, "scored": 0, "unsafe": 0, "harm": 0.0, "by": {}})
            for column in ("impressions", "scored", "unsafe", "harm"):
                total[column] += want[column]
            if want["scored"]:
                total["by"][version] = want["scored"]

    rows = _rows(live, job_id)
    assert rows.keys() == expected.keys()
    for key, want in expected.items():
        got = rows[key]
        assert (got["impressions"], got["scored"], got["unsafe"]) == \
               (want["impressions"], want["scored"], want["unsafe"]), key
        assert got["harm"] == pytest.approx(want["harm"], rel=1e-9), key
        assert got["scored_by_model_version"] == want["by"], key
        assert got["model_version"] == ",".join(sorted(want["by"])), key
    stamped = {got["model_version"] for got in rows.values()}
    assert {"1", "2", "1,2"} <= stamped  # 1-minute rows of each phase, and 5-minute rows across the reload

    # Each item's verdict names the model that scored it.
    history = SchemaHistory.from_folder(schemas.VERDICT_HISTORY)
    decoder = AvroDecoder(history.latest, history)
    verdicts = {key.decode(): decoder.decode(value) for key, value in
                topic_records.newest_per_key(kafka.bootstrap_servers, kafka.item_verdicts_topic).items()
                if value is not None}
    scored_items = {r["item_id"]: version for version, records in (("1", before), ("2", after))
                    for r in records if r["caption"] is not None}
    assert {item: v["model_version"] for item, v in verdicts.items()} == scored_items
