"""Per-slice circuit breakers: an injected incident opens its slice's breaker only, it closes after the
incident with hysteresis, and a replay of the same input writes the same transitions."""
from __future__ import annotations

import time
import uuid
from dataclasses import replace

import requests

from jobs import safety_health
from riskstream.cli.generator import GeneratorSettings, Incident, generate
from riskstream.cli import audit_command
from riskstream.core import paths, schemas
from riskstream.core.job_config import HealthJobSettings
from riskstream.io import kafka_admin, topics
from riskstream.io import stack_state as state
from tests.e2e import kafka_io, store, stream
from udfs.wire import AvroDecoder, SchemaHistory

START_MS = 1_767_744_000_000  # 2026-01-07T00:00:00Z
INCIDENT = "surface=shorts,region=br,start=4,end=9,multiplier=20"
FILE = paths.REPO_ROOT / "policies" / "default.toml"


def _transitions(services, job_id: str) -> list[tuple]:
    rows = store.query(services, "SELECT surface, region, recommender_model_version AS version, "
                                 "intDiv(toUnixTimestamp64Milli(window_start) - {start:Int64}, 60000) AS minute, "
                                 "from_state, to_state, scored, unsafe FROM breaker_transitions FINAL "
                                 "WHERE job_id = {job:String} ORDER BY surface, region, version, minute",
                       start=START_MS, job=job_id)
    return [tuple(r.values()) for r in rows]


def test_the_incident_opens_its_slices_breaker_only_which_closes_after_it_and_a_replay_agrees(services, tmp_path):
    kafka = replace(services.kafka, policies_topic=f"policies-e2e-{uuid.uuid4().hex[:8]}")
    services = replace(services, kafka=kafka)
    kafka_admin.ensure_topics(kafka.bootstrap_servers, topics.specs(kafka))
    settings = GeneratorSettings(seed=71, count=16 * 60 * 30, rate=30.0, start_ms=START_MS,
                                 incidents=(Incident.parse(INCIDENT),))
    records = [g.record for g in generate(settings)]
    start = stream.offsets(services)
    stream.send(services, records)
    end = stream.offsets(services)
    for job_id in ("e2e-breakers", "e2e-breakers-replay"):
        safety_health.run(services, HealthJobSettings(start_offsets=start, end_offsets=end, bounded=True,
                                                      job_id=job_id, checkpoint_dir=tmp_path / job_id,
                                                      policy_path=FILE))

    moves = _transitions(services, "e2e-breakers")
    assert moves == _transitions(services, "e2e-breakers-replay")  # event time, not the clock, decides
    # Only the incident's slices move: shorts x br, for either recommender model version with enough traffic.
    assert moves and {(m[0], m[1]) for m in moves} == {("shorts", "br")}
    # Each move is in the audit trail too, decided by the job (no override was in force).
    audited = store.query(services, "SELECT kind, subject, action, actor FROM audit_log FINAL WHERE job_id = "
                                    "{job:String} AND kind LIKE 'breaker_%'", job="e2e-breakers")
    assert sorted((r["kind"], r["subject"], r["action"], r["actor"]) for r in audited) == sorted(
        ("breaker_transition", f"{m[0]}/{m[1]}/{m[2]}", f"{m[4]} -> {m[5]}", "job e2e-breakers") for m in moves)
    opened_at = {}
    for version in {m[2] for m in moves}:
        mine = [(m[3], m[4], m[5]) for m in moves if m[2] == version]
        assert [(a, b) for _, a, b in mine] == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]
        opened, half_open, closed = (minute for minute, _, _ in mine)
        # Within the default 3 recent windows of the incident's start (event time): sooner the more traffic.
        assert 4 <= opened <= 4 + 3
        assert opened + 4 <= half_open   # the 5-minute cool-down (the default policy's)
        assert closed >= 9 + 2           # after the incident ends at minute 9, three clean probe windows
        opened_at[version] = opened
    assert opened_at["recsys-2026.10"] <= 5  # the busier version (about 50 scored a minute): within one window
    trip = [m for m in moves if m[5] == "open"][0]
    assert trip[6] >= 50 and trip[7] / trip[6] > 0.20  # the evidence: enough sample, above the trip rate

    # The provisioned on-call rule fires for the incident's slice while its breaker is open, then resolves.
    during, after = store.evaluate_rule(services, "riskstream-breaker-open", START_MS + 8 * stream.MINUTE,
                                        START_MS + 16 * stream.MINUTE)
    firing = {dict(i.labels)["recommender_model_version"] for i in during if i.firing
              and (dict(i.labels)["surface"], dict(i.labels)["region"]) == ("shorts", "br")}
    assert firing == {v for v, opened in opened_at.items() if opened <= 7}
    assert not [i for i in after if i.firing and dict(i.labels).get("surface") == "shorts"
                and dict(i.labels).get("region") == "br"]

    # The newest record per slice on the compacted topic is its breaker's state: closed again.
    newest = _newest_records(services, kafka.breaker_state_topic, schemas.BREAKER_HISTORY, "e2e-breakers")
    assert {(r["surface"], r["region"], r["state"]) for r in newest.values()} == {("shorts", "br", "closed")}


def _newest_records(services, topic: str, history_folder, job_id: str) -> dict[bytes, dict]:
    """The newest record per key that `job_id` wrote to a compacted topic."""
    history = SchemaHistory.from_folder(history_folder)
    decoder = AvroDecoder(history.latest, history)
    newest = {}
    for message in kafka_io.read_all(services.kafka.bootstrap_servers, topic):
        record = decoder.decode(message.value())
        if record["job_id"] == job_id:
            newest[message.key()] = record
    return newest


def _guard_answer(url: str, surface: str, region: str, version: str, items: list[str], state_wanted: str) -> dict:
    """The guard's answer once its view holds the breaker state wanted (it follows the topics as they grow)."""
    deadline = time.monotonic() + 60
    while True:
        answer = requests.post(f"{url}/v1/decide", json={"surface": surface, "region": region,
                                                         "recommender_model_version": version, "items": items},
                               timeout=5).json()
        if answer["breaker"]["state"] == state_wanted or time.monotonic() > deadline:
            return answer
        time.sleep(0.5)


def test_a_policy_forces_a_quiet_slices_breaker_open_from_the_first_window_it_judges(services, stack, tmp_path):
    kafka = replace(services.kafka, policies_topic=f"policies-e2e-{uuid.uuid4().hex[:8]}")
    services = replace(services, kafka=kafka)
    kafka_admin.ensure_topics(kafka.bootstrap_servers, topics.specs(kafka))
    forcing = tmp_path / "forcing.toml"
    forcing.write_text(FILE.read_text().replace('version = "2026-11-22.1"', 'version = "e2e-force-search-us"')
                       + '\n[[breaker_overrides]]\nsurface = "search"\nregion = "us"\nstate = "open"\n')
    records = stream.records(72, 4 * 60 * 10, START_MS + 60 * stream.MINUTE, rate=10.0)  # quiet: no incident
    start = stream.offsets(services)
    stream.send(services, records)
    safety_health.run(services, HealthJobSettings(start_offsets=start, end_offsets=stream.offsets(services),
                                                  bounded=True, job_id="e2e-breakers-forced",
                                                  checkpoint_dir=tmp_path / "chk", policy_path=forcing))
    moves = _transitions(services, "e2e-breakers-forced")
    versions = {r["recommender_model_version"] for r in records if (r["surface"], r["region"]) == ("search", "us")}
    # One forced move per search x us slice, on its first window (minute 60 of the test's clock), and nothing else.
    assert sorted((m[0], m[1], m[2], m[3], m[4], m[5]) for m in moves) == \
        sorted(("search", "us", version, 60, "closed", "open") for version in versions)
    # The audit trail holds each forced move as a manual override by the policy's author, and the policy.
    audited = store.query(services, "SELECT kind, subject, action, actor, policy_version FROM audit_log FINAL "
                                    "WHERE job_id = {job:String} AND kind LIKE 'breaker_%' ORDER BY subject",
                          job="e2e-breakers-forced")
    assert [tuple(r.values()) for r in audited] == [
        ("breaker_override", f"search/us/{version}", "closed -> open", "riskstream", "e2e-force-search-us")
        for version in sorted(versions)]
    published = audit_command.query(services.clickhouse, kinds=["policy_published"], subject="e2e-force-search-us")
    assert [(r["actor"], r["source"]) for r in published] == [("riskstream", f"{kafka.policies_topic}@0")]

    # In the recommendation path: the stack's guard follows the topics this job wrote and, on the forced
    # slice, serves only items the job judged allowed and drops the rest, by the job's verdict per item.
    verdicts = {record["item_id"]: record["action"] for record in _newest_records(
        services, kafka.item_verdicts_topic, schemas.VERDICT_HISTORY, "e2e-breakers-forced").values()}
    served_there = sorted({r["item_id"] for r in records if (r["surface"], r["region"]) == ("search", "us")})
    items = served_there[:40] + ["e2e-item-never-seen"]
    version = sorted(versions)[0]
    answer = _guard_answer(state.addresses(stack.state_dir)["guard"], "search", "us", version, items, "open")
    assert answer["breaker"]["state"] == "open" and not answer["stale"], answer["breaker"]
    expected = [(item, "serve" if verdicts.get(item) == "allow" else "drop", "breaker_open") for item in items]
    assert [(d["item_id"], d["decision"], d["rule"]) for d in answer["decisions"]] == expected
    assert {d for _, d, _ in expected} == {"serve", "drop"}  # both kinds of answer are tested
