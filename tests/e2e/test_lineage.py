"""The job's OpenLineage events: a bounded run emits START, RUNNING and COMPLETE, a failing one START and FAIL;
every event validates against the OpenLineage spec's JSON Schemas (the core RunEvent and each facet's own
schema, fetched by `make setup` into .cache/openlineage-spec/; riskstream's facets against schemas/openlineage/)
and names the topics, the offset ranges read (checked against the offsets the records were written at), the
tables, the job, the model and the policy."""
from __future__ import annotations

import copy
import dataclasses
import functools
import json
import uuid
from datetime import datetime

import jsonschema
import pytest
from referencing import Registry, Resource

from jobs import safety_health
from riskstream.cli import policy_store
from riskstream.core import paths
from riskstream.core.job_config import HealthJobSettings, LineageSettings
from riskstream.io import openlineage
from riskstream.io.processes import free_port
from tests.e2e import stream

SPEC = paths.REPO_ROOT / ".cache" / "openlineage-spec"
CORE = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
# The spec package carries JobTypeJobFacet 2-0-3; the client writes 2-0-4, which only adds the optional
# emissionPattern (riskstream does not set it): a 2-0-4 facet is checked against 2-0-3's definition.
OLDER = {"https://openlineage.io/spec/facets/2-0-4/JobTypeJobFacet.json":
         "https://openlineage.io/spec/facets/2-0-3/JobTypeJobFacet.json"}
# The client adds a tags facet (its own version) to every run; the spec package has no schema for it, so it gets
# the core schema's RunFacet check only. Every other facet is checked against its own schema.
CORE_ONLY = {"https://openlineage.io/spec/facets/1-0-0/TagsRunFacet.json"}


@functools.cache
def _registry() -> Registry:
    files = [SPEC / "OpenLineage.json", *sorted((SPEC / "facets").glob("*.json")),
             *sorted(openlineage.SCHEMAS.glob("*.json"))]
    if not files[0].exists():
        pytest.fail(f"{files[0]} is missing: run `make setup` (it fetches the OpenLineage spec)")
    resources = [Resource.from_contents(json.loads(path.read_text())) for path in files]
    return Registry().with_resources((resource.id(), resource) for resource in resources)


def _validate(instance: dict, url: str) -> None:
    """`instance` against the definition `url` names (resource#/$defs/Name)."""
    resource, _, pointer = url.partition("#")
    resource = OLDER.get(resource, resource)
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": f"{resource}#{pointer}"}
    jsonschema.Draft202012Validator(schema, registry=_registry()).validate(instance)


def _facets(event: dict):
    yield from event["run"].get("facets", {}).values()
    yield from event["job"].get("facets", {}).values()
    for dataset in event.get("inputs", []) + event.get("outputs", []):
        yield from dataset.get("facets", {}).values()
        yield from dataset.get("inputFacets", {}).values()
        yield from dataset.get("outputFacets", {}).values()


def check_against_spec(event: dict) -> None:
    """The core schema's RunEvent, then each facet against the schema its _schemaURL names; and the formats
    jsonschema leaves unchecked without extra packages (date-time, uuid)."""
    _validate(event, f"{CORE}#/$defs/RunEvent")
    assert event["schemaURL"] == f"{CORE}#/$defs/RunEvent"
    for facet in _facets(event):
        if facet["_schemaURL"].partition("#")[0] not in CORE_ONLY:
            _validate(facet, facet["_schemaURL"])
    datetime.fromisoformat(event["eventTime"])
    uuid.UUID(event["run"]["runId"])


@pytest.fixture
def lineage_topics(services):
    return stream.own_topics(services, "lineage", "impressions_topic", "item_verdicts_topic")[0]


def test_a_bounded_run_emits_start_running_complete_that_validate_and_name_its_offsets(lineage_topics, tmp_path):
    services = lineage_topics
    kafka = services.kafka
    records = stream.records(71, 900, 1_772_323_200_000)
    positions = stream.send(services, records)
    events_file = tmp_path / "lineage" / "events.jsonl"
    job_id = f"e2e-lineage-{uuid.uuid4().hex[:6]}"
    safety_health.run(services, HealthJobSettings(
        bounded=True, job_id=job_id, checkpoint_dir=tmp_path / "cp", checkpoint_interval_ms=1_000,
        lineage=LineageSettings(file=events_file, interval_s=2)))

    events = openlineage.read_events(events_file)
    kinds = [e["eventType"] for e in events]
    assert kinds[0] == "START" and kinds[-1] == "COMPLETE" and set(kinds[1:-1]) == {"RUNNING"}, kinds
    assert len({e["run"]["runId"] for e in events}) == 1
    for event in events:
        check_against_spec(event)

    host, port = kafka.bootstrap_servers.split(",")[0].rsplit(":", 1)
    namespace = f"kafka://{host}:{port}"
    sent: dict[int, list[int]] = {}
    for partition, offset in positions:
        sent.setdefault(partition, []).append(offset)
    start, complete = events[0], events[-1]
    for event in events:
        assert (event["job"]["namespace"], event["job"]["name"]) == ("riskstream", job_id)
        assert event["job"]["facets"]["jobType"]["processingType"] == "BATCH"
        impressions = event["inputs"][0]
        assert (impressions["namespace"], impressions["name"]) == (namespace, kafka.impressions_topic)
        assert {(d["namespace"], d["name"]) for d in event["inputs"][1:]} == \
            {(namespace, kafka.policies_topic), (namespace, kafka.forget_requests_topic)}
        outputs = {(d["namespace"], d["name"]) for d in event["outputs"]}
        database = services.clickhouse.database
        assert {name for ns, name in outputs if ns.startswith("chdb://")} == {
            f"{database}.{t}" for t in ("safety_health", "shadow_health", "late_events", "dead_letters",
                                        "breaker_transitions", "audit_log")}
        assert {(namespace, t) for t in (kafka.dead_letter_topic, kafka.item_verdicts_topic,
                                         kafka.breaker_state_topic)} <= outputs
        assert len(outputs) == 9
        run = event["run"]["facets"]
        assert run["riskstream_job"]["jobId"] == job_id and len(run["riskstream_job"]["flinkJobId"]) == 32
        assert (run["riskstream_safetyModel"]["name"], run["riskstream_safetyModel"]["version"]) == ("safety_text", "1")
        assert run["riskstream_policy"]["version"] == policy_store.active(policy_store.history(kafka)).version
        assert run["processing_engine"]["version"] == "2.3.0"
    # START: where it starts (nothing read yet); COMPLETE: every record sent, by its written offsets.
    assert start["inputs"][0]["inputFacets"]["riskstream_kafkaOffsets"]["partitions"] == [
        {"partition": p, "startOffset": 0} for p in range(kafka.partitions)]
    assert complete["inputs"][0]["inputFacets"]["riskstream_kafkaOffsets"]["partitions"] == [
        {"partition": p, "startOffset": 0, "endOffset": max(sent.get(p, [-1])) + 1} for p in range(kafka.partitions)]
    assert complete["inputs"][0]["inputFacets"]["inputStatistics"]["rowCount"] == len(records)
    # RUNNING events report the offsets read so far: never past the end, never going back.
    ends = [[p["endOffset"] for p in e["inputs"][0]["inputFacets"]["riskstream_kafkaOffsets"]["partitions"]]
            for e in events[1:]]
    assert all(a <= b for earlier, later in zip(ends, ends[1:]) for a, b in zip(earlier, later))

    # The validation can fail: a run event without a run id, or with an unknown state, is refused.
    for broken in (_without(events[-1], "run", "runId"), {**events[-1], "eventType": "DONE"}):
        with pytest.raises(jsonschema.ValidationError):
            check_against_spec(broken)
    facet = copy.deepcopy(complete["inputs"][0]["inputFacets"]["riskstream_kafkaOffsets"])
    facet["partitions"][0]["startOffset"] = "0"
    with pytest.raises(jsonschema.ValidationError):
        _validate(facet, facet["_schemaURL"])


def _without(event: dict, *path: str) -> dict:
    broken = copy.deepcopy(event)
    target = broken
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return broken


def test_a_run_that_fails_emits_start_then_fail_with_the_error(lineage_topics, tmp_path):
    """ClickHouse unreachable: the sink cannot open and, with no restart allowed, the run fails with that error.
    (With restarts, a cancelled pandas UDF's Arrow writer can throw while closing, which Flink 2.3 treats as
    fatal for the MiniCluster's one TaskManager; the run then fails minutes later for want of slots.)"""
    services = lineage_topics
    stream.send(services, stream.records(72, 50, 1_772_323_200_000))
    address = f"127.0.0.1:{free_port()}"
    broken = dataclasses.replace(services, clickhouse=dataclasses.replace(services.clickhouse, url=f"http://{address}"))
    events_file = tmp_path / "events.jsonl"
    with pytest.raises(Exception):
        safety_health.run(broken, HealthJobSettings(
            bounded=True, job_id=f"e2e-lineage-fail-{uuid.uuid4().hex[:6]}", checkpoint_dir=tmp_path / "cp",
            restart_attempts=0, lineage=LineageSettings(file=events_file, interval_s=0)))
    events = openlineage.read_events(events_file)
    assert [e["eventType"] for e in events] == ["START", "FAIL"]
    for event in events:
        check_against_spec(event)
    error = events[-1]["run"]["facets"]["errorMessage"]
    assert error["programmingLanguage"] == "python" and address in error["stackTrace"]
