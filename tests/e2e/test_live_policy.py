"""A policy published while the job runs judges the impressions served after it, without a restart; a
replay judges them the same way, by the topic's policies and event time, not by the file it was given."""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import replace

from jobs import runtime, safety_health
from riskstream.cli import policy_store
from riskstream.core import paths, schemas
from riskstream.core.job_config import HealthJobSettings
from riskstream.io import kafka_admin, policy_topic, topics
from tests.e2e import kafka_io, reference, store, stream
from udfs import policy as policy_file
from udfs.wire import Encoder, SchemaHistory, WireFormat

FILE = paths.REPO_ROOT / "policies" / "default.toml"


def _expected_unsafe(services, records, policy) -> dict[tuple, tuple[int, int]]:
    """(window start, dims) -> (impressions, unsafe) of 1-minute windows, by the plain-Python reference."""
    scores, categories = reference.model_scores(services, records)
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


def _views_judged_by(halves) -> dict[tuple, str]:
    """(5-minute view start, dims) -> the versions that judged its impressions, in the order applied."""
    judged_by: dict[tuple, list[str]] = {}
    for version, records in halves:
        for r in records:
            minute = r["event_time"] - r["event_time"] % stream.MINUTE
            for k in range(5):
                versions = judged_by.setdefault((minute - k * stream.MINUTE, *(r[d] for d in reference.DIMS)), [])
                if version not in versions:
                    versions.append(version)
    return {key: ",".join(versions) for key, versions in judged_by.items()}


def test_a_policy_published_mid_stream_judges_the_impressions_after_it_without_a_restart(services, tmp_path):
    kafka = replace(services.kafka, policies_topic=f"policies-e2e-{uuid.uuid4().hex[:8]}")
    services = replace(services, kafka=kafka)
    kafka_admin.ensure_topics(kafka.bootstrap_servers, topics.specs(kafka))
    initial = policy_file.load(FILE)
    strict = replace(initial, version=f"e2e-strict-{uuid.uuid4().hex[:6]}",
                     thresholds={category: 0.05 for category in initial.thresholds})
    base = int(time.time() * 1000) // stream.MINUTE * stream.MINUTE - 3 * stream.MINUTE
    before = stream.records(41, 600, base)                                  # two minutes, served before
    start = stream.offsets(services)

    job = HealthJobSettings(start_offsets=start, job_id="e2e-live-policy", checkpoint_dir=tmp_path,
                            checkpoint_interval_ms=1_000, policy_path=FILE)
    started = safety_health.start(services, job)
    try:
        stream.send(services, before)
        stream.wait_processed(services, "e2e-live-policy")
        published = policy_store.publish(kafka, strict, author="e2e", reason="incident: tighten every threshold")
        # Another writer forces a record that is no policy onto the topic: the job ignores it, and audits that.
        junk_offset = policy_topic.append(kafka, b"junk@1", b"\xc3\x01not a policy", int(time.time() * 1000))
        # Served from the next whole minute after the publication: judged by it.
        after = stream.records(42, 600, -(-published.policy.created_at_ms // stream.MINUTE) * stream.MINUTE)
        stream.send(services, after)
        stream.wait_processed(services, "e2e-live-policy")
        assert "RUNNING" in str(started.client.get_job_status().result())  # no restart: the same job throughout
    finally:
        runtime.drain(started.client, tmp_path / "savepoints")

    # The job published the file as the topic's first version when the topic had none.
    [first, second, junk] = policy_store.history(kafka)
    assert first.policy.rules() == initial.rules() and second.policy.version == strict.version
    assert junk.policy is None and junk.offset == junk_offset

    # Every record of the topic is in the audit trail: the publications with who, why and the rules, and
    # the record the job ignored, with its error (the rows after it stayed under the strict policy, below).
    audited = {r["source"]: r for r in store.query(
        services, "SELECT kind, subject, action, actor, reason, policy_version, evidence, source FROM audit_log FINAL "
                  "WHERE startsWith(source, {topic:String})", topic=f"{kafka.policies_topic}@")}
    assert {source: (r["kind"], r["subject"], r["actor"]) for source, r in audited.items()} == {
        f"{kafka.policies_topic}@{first.offset}": ("policy_published", initial.version, "riskstream"),
        f"{kafka.policies_topic}@{second.offset}": ("policy_published", strict.version, "e2e"),
        f"{kafka.policies_topic}@{junk_offset}": ("policy_rejected", "junk@1", "")}
    assert audited[f"{kafka.policies_topic}@{second.offset}"]["reason"] == "incident: tighten every threshold"
    assert json.loads(audited[f"{kafka.policies_topic}@{second.offset}"]["evidence"])["thresholds"] == strict.thresholds
    assert "not a policy record" in audited[f"{kafka.policies_topic}@{junk_offset}"]["reason"]

    rows = _rows(services, "e2e-live-policy", 60)
    expected = {**_expected_unsafe(services, before, initial), **_expected_unsafe(services, after, strict)}
    assert {k: (r["impressions"], r["unsafe"]) for k, r in rows.items()} == expected
    split = after[0]["event_time"]
    assert {k: r["policy_version"] for k, r in rows.items()} == \
        {k: initial.version if k[0] < split else strict.version for k in rows}
    assert sum(r["unsafe"] for k, r in rows.items() if k[0] >= split) > \
        3 * sum(r["unsafe"] for k, r in rows.items() if k[0] < split)
    # A 5-minute view names the policies its slice's impressions were judged by, in the order applied.
    views = _rows(services, "e2e-live-policy", 300)
    assert {k: r["policy_version"] for k, r in views.items()} == \
        _views_judged_by(((initial.version, before), (strict.version, after)))
    assert any("," in r["policy_version"] for r in views.values())

    # A replay of the same offsets by a new run, given the file again, judges every impression as the live
    # run did: by the topic's policies and the impressions' event times, not by the file or the clock.
    rerun = replace(job, job_id="e2e-live-policy-replay", bounded=True, end_offsets=stream.offsets(services),
                    checkpoint_dir=tmp_path / "replay")
    safety_health.run(services, rerun)
    for seconds in (60, 300):
        live, replay = _rows(services, "e2e-live-policy", seconds), _rows(services, "e2e-live-policy-replay", seconds)
        assert {k: (r["impressions"], r["unsafe"], r["policy_version"]) for k, r in replay.items()} == \
            {k: (r["impressions"], r["unsafe"], r["policy_version"]) for k, r in live.items()}


def test_a_shadow_policy_is_counted_beside_the_active_one_and_the_report_equals_the_reference(
        services, stack, tmp_path, capsys):
    from riskstream.cli.main import main

    kafka = replace(services.kafka, policies_topic=f"policies-e2e-{uuid.uuid4().hex[:8]}",
                    moderation_labels_topic=f"moderation-labels-e2e-{uuid.uuid4().hex[:8]}")
    services = replace(services, kafka=kafka)
    kafka_admin.ensure_topics(kafka.bootstrap_servers, topics.specs(kafka))
    initial = policy_file.load(FILE)
    shadow = replace(initial, version=f"e2e-shadow-{uuid.uuid4().hex[:6]}", mode="shadow",
                     thresholds={category: 0.3 for category in initial.thresholds})
    published = policy_store.publish(kafka, shadow, author="e2e", reason="what would 0.3 everywhere do?")
    records = stream.records(43, 600, -(-published.policy.created_at_ms // stream.MINUTE) * stream.MINUTE)
    start = stream.offsets(services)
    stream.send(services, records)
    # A reviewer labelled each item at its first impression: every third item violating in toxicity. The job
    # reads labels from the time of its first impression on (no label offsets given: Kafka's timestamp start).
    labels = {}
    for record in records:
        labels.setdefault(record["item_id"], {
            "label_id": f"shadow-{record['item_id']}", "item_id": record["item_id"], "labeled_at": record["event_time"],
            "reviewer_queue": "random_sample", "reviewed_categories": [],
            "violating_categories": ["toxicity"] if int(record["item_id"][5:], 16) % 3 == 0 else []})
    label_codec = Encoder(SchemaHistory.from_folder(schemas.MODERATION_LABEL_HISTORY).latest, WireFormat.SINGLE_OBJECT)
    # And one made two hours before the stream: older than its first impression, so never read.
    early = {**next(iter(labels.values())), "label_id": "shadow-early"}
    early["labeled_at"] -= 2 * 3600 * 1000
    kafka_io.send(kafka.bootstrap_servers, kafka.moderation_labels_topic,
                  [(i.encode(), label_codec.encode(label), label["labeled_at"])
                   for i, label in [("early", early), *labels.items()]])
    safety_health.run(services, HealthJobSettings(start_offsets=start, end_offsets=stream.offsets(services),
                                                  label_join=True, bounded=True, job_id="e2e-shadow",
                                                  checkpoint_dir=tmp_path, policy_path=FILE))

    scores, categories = reference.model_scores(services, records)
    expected: dict[tuple, list[int]] = {}
    for record, item_scores in zip(records, scores):
        now = any(s >= initial.thresholds[c] for c, s in zip(categories, item_scores))
        then = any(s >= shadow.thresholds[c] for c, s in zip(categories, item_scores))
        key = (record["event_time"] - record["event_time"] % stream.MINUTE, *(record[d] for d in reference.DIMS))
        counts = expected.setdefault(key, [0, 0, 0, 0, 0])
        for i, value in enumerate((1, now, then, then and not now, now and not then)):
            counts[i] += value
    rows = store.query(services, "SELECT toUnixTimestamp64Milli(window_start) AS start, surface, region, "
                                 "recommender_model_version, item_category, scored, unsafe_active, unsafe_shadow, "
                                 "to_unsafe, to_safe, active_policy_version FROM shadow_health FINAL "
                                 "WHERE job_id = 'e2e-shadow' AND shadow_policy_version = {v:String}",
                       v=shadow.version)
    assert {tuple(r.values())[:5]: list(tuple(r.values())[5:10]) for r in rows} == expected
    assert {r["active_policy_version"] for r in rows} == {initial.version}
    # Shadow never acts: the job's own rows are judged by the policy in force alone.
    health = _rows(services, "e2e-shadow", 60)
    assert {k: r["unsafe"] for k, r in health.items()} == {k: v[1] for k, v in expected.items()}
    assert {r["policy_version"] for r in health.values()} == {initial.version}
    total = [sum(v[i] for v in expected.values()) for i in range(5)]
    assert total[3] > 0  # the shadow's lower thresholds flip some impressions to unsafe

    capsys.readouterr()
    assert main(["policy", "shadow-report", shadow.version, "--state-dir", str(stack.state_dir),
                 "--policies-topic", kafka.policies_topic, "--moderation-labels-topic",
                 kafka.moderation_labels_topic]) == 0
    out = capsys.readouterr().out
    assert f"shadow policy {shadow.version}, job e2e-shadow, against {initial.version}" in out
    [all_line] = [line for line in out.splitlines() if line.startswith("all ")]
    assert [int(v.replace(",", "")) for v in all_line.split()[2:7]] == total
    # Where labels exist, the report gives the shadow's thresholds against them beside the active policy's.
    item_scores = {r["item_id"]: dict(zip(categories, s)) for r, s in zip(records, scores)}
    assert f"{shadow.version} against human labels ({len(labels)} labelled items scored)" in out
    assert store.query(services, "SELECT count() AS n FROM label_outcomes WHERE job_id = 'e2e-shadow' "
                                 "AND label_id = 'shadow-early'") == [{"n": 0}]
    for category in categories:
        flagged = [sum(item_scores[i][category] >= policy.thresholds[category] for i in labels)
                   for policy in (initial, shadow)]
        violating = sum(category in label["violating_categories"] for label in labels.values())
        [line] = [line for line in out.splitlines() if line.startswith(f"{category} ") and "->" in line]
        assert line.split()[-4:] == [str(flagged[0]), "->", str(flagged[1]), str(violating)], line
