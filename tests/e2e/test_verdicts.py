"""Per-item verdicts on the compacted item-verdicts topic, against a reference judged from Triton's own scores."""
from __future__ import annotations

import uuid
from dataclasses import replace

from jobs import safety_health
from riskstream.core import schemas
from riskstream.core.job_config import HealthJobSettings
from riskstream.io import kafka_admin, topics
from tests.e2e import reference, kafka_io, stream
from udfs.wire import AvroDecoder, SchemaHistory

POLICY = """version = "e2e-verdicts-{tag}"
[thresholds]
toxicity = 0.5
hate = 0.5
sexual = 0.5
violence = 0.5
self_harm = 0.5
spam = 0.5
[block_thresholds]
hate = 0.8
violence = 0.8
spam = 0.9
[[kill_switches]]
category = "self_harm"
[[kill_switches]]
surface = "shorts"
category = "toxicity"
"""


def _reference(scores, categories) -> str:
    """The action, judged here from the policy text's numbers, not by udfs/verdicts.py."""
    named = dict(zip(categories, scores))
    if named["hate"] >= 0.8 or named["violence"] >= 0.8 or named["spam"] >= 0.9 or named["self_harm"] >= 0.5:
        return "block"
    return "demote" if max(scores) >= 0.5 else "allow"


def test_every_scored_item_gets_its_verdict_once_keyed_by_item(services, tmp_path):
    tag = uuid.uuid4().hex[:6]
    kafka = replace(services.kafka, policies_topic=f"policies-e2e-{tag}")
    services = replace(services, kafka=kafka)
    kafka_admin.ensure_topics(kafka.bootstrap_servers, topics.specs(kafka))
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text(POLICY.format(tag=tag))
    records = stream.records(51, 1500, 1_767_657_600_000, rate=10.0)  # 2026-01-06, two and a half minutes
    start = stream.offsets(services)
    stream.send(services, records)
    job_id = f"e2e-verdicts-{tag}"
    safety_health.run(services, HealthJobSettings(start_offsets=start, end_offsets=stream.offsets(services),
                                                  bounded=True, job_id=job_id, checkpoint_dir=tmp_path / "chk",
                                                  policy_path=policy_file))

    history = SchemaHistory.from_folder(schemas.VERDICT_HISTORY)
    decoder = AvroDecoder(history.latest, history)
    mine = []
    for message in kafka_io.read_all(kafka.bootstrap_servers, kafka.item_verdicts_topic):
        verdict = decoder.decode(message.value())
        if verdict["job_id"] == job_id:
            assert message.key() == verdict["item_id"].encode()
            mine.append(verdict)

    scores, categories = reference.model_scores(services, records)
    expected = {r["item_id"]: _reference(s, categories) for r, s in zip(records, scores)}
    assert sorted(v["item_id"] for v in mine) == sorted(expected)  # each item once: nothing changed meanwhile
    assert {v["item_id"]: v["action"] for v in mine} == expected
    assert {"allow", "demote", "block"} <= set(expected.values())
    seen = {}
    for r in records:
        seen.setdefault(r["item_id"], set()).add(r["event_time"])
    for v in mine:
        assert v["policy_version"] == f"e2e-verdicts-{tag}" and v["model_name"] == "safety_text", v
        assert v["event_time"] in seen[v["item_id"]], v  # decided by one of the item's own impressions
        assert v["reason"]
