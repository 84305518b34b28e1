"""A policy published while the job runs applies to what it reads next, without a restart; a new run
takes the active policy from the topic, not from the file it was given."""
from __future__ import annotations

import time
import uuid
from dataclasses import replace

from jobs import runtime, safety_health
from riskstream.cli import policy_store
from riskstream.core import paths
from riskstream.core.job_config import HealthJobSettings
from riskstream.io import kafka_admin, topics
from riskstream.io.scoring import SafetyScorer
from tests.e2e import reference, store, stream
from udfs import policy as policy_file

START_MS = 1_767_571_200_000  # 2026-01-05T00:00:00Z
FILE = paths.REPO_ROOT / "policies" / "default.toml"


def _expected_unsafe(services, records, policy) -> dict[tuple, tuple[int, int]]:
    """(window start, dims) -> (impressions, unsafe) of 1-minute windows, by the plain-Python reference."""
    scorer = SafetyScorer(services.triton)
    scorer.open()
    try:
        scores = scorer.score([r["caption"] for r in records]).tolist()
        categories = scorer.model.categories
    finally:
        scorer.close()
    rows = reference.expected_rows(records, scores, [(0, i) for i in range(len(records))], policy.thresholds,
                                   categories)
    return {key[1:]: (row["impressions"], row["unsafe"]) for key, row in rows.items() if key[0] == 60}


def _rows(services, job_id: str, seconds: int) -> dict[tuple, dict]:
    rows = store.query(services, "SELECT toUnixTimestamp64Milli(window_start) AS start, surface, region, "
                                 "recommender_model_version AS version, item_category AS category, impressions, "
                                 "unsafe, policy_version FROM safety_health FINAL "
                                 "WHERE job_id = {job:String} AND window_seconds = {seconds:UInt32}",
                       job=job_id, seconds=seconds)
    return {(r["start"], r["surface"], r["region"], r["version"], r["category"]): r for r in rows}


def _by_minutes(expected: dict, first: int, last: int) -> dict:
    return {k: v for k, v in expected.items() if START_MS + first * stream.MINUTE <= k[0] < START_MS + last * stream.MINUTE}


def test_a_published_policy_applies_to_what_the_running_job_reads_next(services, tmp_path):
    kafka = replace(services.kafka, policies_topic=f"policies-e2e-{uuid.uuid4().hex[:8]}")
    services = replace(services, kafka=kafka)
    kafka_admin.ensure_topics(kafka.bootstrap_servers, topics.specs(kafka))
    initial = policy_file.load(FILE)
    strict = replace(initial, version=f"e2e-strict-{uuid.uuid4().hex[:6]}",
                     thresholds={category: 0.05 for category in initial.thresholds})
    before, after = stream.records(41, 600, START_MS), stream.records(42, 600, START_MS + 3 * stream.MINUTE)
    start = stream.offsets(services)

    job = HealthJobSettings(start_offsets=start, job_id="e2e-live-policy", checkpoint_dir=tmp_path,
                            checkpoint_interval_ms=1_000, policy_path=FILE)
    client = safety_health.start(services, job).client
    try:
        stream.send(services, before)                                      # minutes 0-1 under the initial policy
        stream.wait_processed(services, "e2e-live-policy")
        policy_store.publish(kafka, strict, author="e2e", reason="incident: tighten every threshold")
        time.sleep(2)  # the job's policy consumer fetches it in the background meanwhile
        stream.send(services, after)                                       # minutes 3-4 under the strict one
        stream.wait_processed(services, "e2e-live-policy")
    finally:
        runtime.drain(client, tmp_path / "savepoints")

    # The job published the file as the topic's first version when the topic had none.
    [first, second] = policy_store.history(kafka)
    assert first.policy.rules() == initial.rules() and second.policy.version == strict.version

    rows = _rows(services, "e2e-live-policy", 60)
    expected = {**_by_minutes(_expected_unsafe(services, before, initial), 0, 2),
                **_by_minutes(_expected_unsafe(services, after, strict), 3, 5)}
    assert {k: (r["impressions"], r["unsafe"]) for k, r in rows.items()} == expected
    for key, row in rows.items():
        assert row["policy_version"] == (initial.version if key[0] < START_MS + 3 * stream.MINUTE
                                         else strict.version), key
    assert sum(r["unsafe"] for k, r in rows.items() if k[0] >= START_MS + 3 * stream.MINUTE) > \
        3 * sum(r["unsafe"] for k, r in rows.items() if k[0] < START_MS + 3 * stream.MINUTE)
    # A 5-minute view names the policies its slice's impressions were judged by, in the order applied.
    judged_by: dict[tuple, list[str]] = {}
    for version, records in ((initial.version, before), (strict.version, after)):
        for r in records:
            minute = r["event_time"] - r["event_time"] % stream.MINUTE
            for k in range(5):
                versions = judged_by.setdefault((minute - k * stream.MINUTE, *(r[d] for d in reference.DIMS)), [])
                if version not in versions:
                    versions.append(version)
    views = _rows(services, "e2e-live-policy", 300)
    assert {k: r["policy_version"] for k, r in views.items()} == {k: ",".join(v) for k, v in judged_by.items()}
    assert any("," in r["policy_version"] for r in views.values())

    # A new run over the first half, given the file again, applies the topic's active policy.
    end = stream.offsets(services)
    rerun = replace(job, job_id="e2e-live-policy-rerun", bounded=True, end_offsets=end, checkpoint_dir=tmp_path / "rerun")
    safety_health.run(services, rerun)
    rows = _rows(services, "e2e-live-policy-rerun", 60)
    strict_expected = {**_by_minutes(_expected_unsafe(services, before, strict), 0, 2),
                       **_by_minutes(_expected_unsafe(services, after, strict), 3, 5)}
    assert {k: (r["impressions"], r["unsafe"]) for k, r in rows.items()} == strict_expected
    assert {r["policy_version"] for r in rows.values()} == {strict.version}
