"""`riskstream trace` of the spike alert, one row and one item of a generated incident, checked against the input:
every record's partition and offset is known from its send, so the offset ranges, impression counts and items
the trace names are compared with what was sent, not with the job's own rows."""
from __future__ import annotations

import collections
import contextlib
import dataclasses
import io
import json
import re
import uuid
from datetime import datetime, timezone

import pytest

from dashboards import macros, trace as dashboard_trace
from jobs import safety_health
from riskstream.cli.generator import GeneratorSettings, Incident, generate
from riskstream.cli.main import main
from riskstream.core import paths, schemas
from riskstream.core.job_config import HealthJobSettings
from riskstream.io import clickhouse, kafka_admin, topics
from tests.e2e import kafka_io, reference
from udfs import policy as policy_file
from udfs.wire import Encoder, SchemaHistory, WireFormat

START_MS = 1_772_409_600_000  # 2026-03-02T00:00:00Z, a day of its own
MINUTE = 60_000
JOB = "e2e-trace"
AT = START_MS + 35 * MINUTE  # the incident (10x unsafe items on shorts/br) from minute 20: firing by now
CODEC = Encoder(SchemaHistory.from_folder(schemas.IMPRESSION_HISTORY).latest, WireFormat.SINGLE_OBJECT)


@dataclasses.dataclass
class Sent:
    record: dict
    partition: int
    offset: int


@pytest.fixture(scope="module")
def run(services, stack, tmp_path_factory):
    suffix = uuid.uuid4().hex[:8]  # and a policies topic of its own: the job starts from the default policy
    kafka = dataclasses.replace(services.kafka, impressions_topic=f"trace-impressions-{suffix}",
                                policies_topic=f"trace-policies-{suffix}")
    mine = dataclasses.replace(services, kafka=kafka)
    kafka_admin.ensure_topics(kafka.bootstrap_servers, topics.specs(kafka))
    generated = list(generate(GeneratorSettings(seed=71, count=35 * 60 * 20, rate=20.0, start_ms=START_MS,
                                                incidents=(Incident("shorts", "br", start=20),))))
    positions = kafka_io.send(kafka.bootstrap_servers, kafka.impressions_topic,
                              [(g.record["user_id_hash"].encode(), CODEC.encode(g.record), g.record["event_time"])
                               for g in generated])
    safety_health.run(mine, HealthJobSettings(bounded=True, start_offsets={p: 0 for p in range(kafka.partitions)},
                                              job_id=JOB, checkpoint_dir=tmp_path_factory.mktemp("trace")))
    # The reference rows: Triton asked directly, aggregated by tests/e2e/reference.py (not the job's code).
    records = [g.record for g in generated]
    scores, categories = reference.model_scores(services, records)
    policy = policy_file.load(paths.REPO_ROOT / "policies" / "default.toml")
    expected = reference.expected_rows(records, scores, positions, policy.thresholds, categories)
    return [Sent(g.record, p, o) for g, (p, o) in zip(generated, positions)], \
        ["--state-dir", str(stack.state_dir), "--job-id", JOB, "--json"], expected, policy.version


def _trace(args: list[str], *argv: str) -> dict:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["trace", *argv, *args]) == 0
    return json.loads(out.getvalue())


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat()


def _offsets(sent: list[Sent]) -> dict[str, list[int]]:
    """Partition -> [first, last] offset of the records, as the trace's JSON holds them."""
    spans: dict[int, list[int]] = {}
    for s in sent:
        first, last = spans.get(s.partition, [s.offset, s.offset])
        spans[s.partition] = [min(first, s.offset), max(last, s.offset)]
    return {str(p): span for p, span in sorted(spans.items())}


def _in(sent: list[Sent], start_ms: int, end_ms: int, **dims: str) -> list[Sent]:
    return [s for s in sent if start_ms <= s.record["event_time"] < end_ms
            and all(s.record[k] == v for k, v in dims.items())]


def _top_items(expected: dict, start_ms: int, end_ms: int, **dims: str) -> list[list]:
    """The reference rows' top-unsafe lists of the slice's 1-minute windows, summed per item, as trace ranks them."""
    totals: dict[str, list] = {}
    for (seconds, window, *values), row in expected.items():
        if seconds == 60 and start_ms <= window < end_ms and all(
                v == dims.get(d, v) for d, v in zip(reference.DIMS, values)):
            for item, count, score in row["top_unsafe_items"]:
                entry = totals.setdefault(item, [item, 0, 0.0])
                entry[1] += count
                entry[2] = max(entry[2], score)
    return sorted(totals.values(), key=lambda e: (-e[1], e[0]))[:10]


def test_the_alert_trace_names_the_offsets_counts_models_and_items_the_input_says(run):
    sent, args, expected, policy_version = run
    trace = _trace(args, "--alert", "--slice", "surface=shorts,region=br", "--at", _iso(AT))
    window = _in(sent, AT - 10 * MINUTE, AT, surface="shorts", region="br")
    baseline = _in(sent, START_MS, AT - 10 * MINUTE, surface="shorts", region="br")
    fed = trace["fed_by"]
    assert fed["offsets"] == {JOB: _offsets(window)}
    assert fed["impressions"] == len(window) and trace["baseline"]["impressions"] == len(baseline)
    assert trace["baseline"]["offsets"] == {JOB: _offsets(baseline)}
    assert fed["models"] == {"safety_text:1": len(window)}  # every impression scored, by the one model
    assert fed["policies"] == {policy_version: len(window)}
    # Items: as the reference rows rank them, each shown in the window at least as often as it was unsafe.
    want = _top_items(expected, AT - 10 * MINUTE, AT, surface="shorts", region="br")
    assert [(i, n) for i, n, _ in fed["top_items"]] == [(i, n) for i, n, _ in want]
    assert [s for _, _, s in fed["top_items"]] == pytest.approx([s for _, _, s in want], abs=1e-7)
    shown = collections.Counter(s.record["item_id"] for s in window)
    assert fed["top_items"] and all(0 < n <= shown[item] for item, n, _ in fed["top_items"])
    assert [a["state"] for a in trace["followed"]["alert"]] == ["firing"]
    assert all((t["surface"], t["region"]) == ("shorts", "br") for t in trace["followed"]["breaker_transitions"])


def test_a_row_trace_and_an_item_trace_name_their_own_records(run):
    sent, args, _, _ = run
    row = _in(sent, AT - MINUTE, AT, surface="shorts", region="br")[0].record
    dims = {k: row[k] for k in ("surface", "region", "recommender_model_version", "item_category")}
    trace = _trace(args, "--row", "--slice", ",".join(f"{k}={v}" for k, v in dims.items()),
                   "--at", _iso(AT - MINUTE))
    mine = _in(sent, AT - MINUTE, AT, **dims)
    assert trace["fed_by"]["offsets"] == {JOB: _offsets(mine)} and trace["fed_by"]["impressions"] == len(mine)

    item = trace["fed_by"]["top_items"][0][0] if trace["fed_by"]["top_items"] else \
        _trace(args, "--alert", "--slice", "surface=shorts,region=br", "--at", _iso(AT))["fed_by"]["top_items"][0][0]
    traced = _trace(args, "--item", item)
    # The windows whose top list names the item are windows in which it was shown.
    shown_in = {(s.record["event_time"] // MINUTE, *(s.record[k] for k in dims)) for s in sent
                if s.record["item_id"] == item}
    assert 0 < traced["fed_by"]["rows"] <= len(shown_in)
    assert item in [i for i, _, _ in traced["fed_by"]["top_items"]]


def test_the_trace_dashboard_reached_by_the_overviews_data_link_shows_what_the_input_says(run, services):
    """Following the overview's breaker-transitions link for a shorts/br slice at the alert's time: the Trace
    dashboard's panels, queried as Grafana would (variables from the link, the others at their defaults, macros
    expanded), name the input's offsets, counts, model and items."""
    sent, _, expected, policy_version = run
    provisioned = paths.REPO_ROOT / "dashboards" / "provisioning" / "dashboards" / "riskstream"
    overview = json.loads((provisioned / "safety-overview.json").read_text())
    [panel] = [p for p in overview["panels"] if p["title"] == "Circuit breaker transitions"]
    [link] = panel["fieldConfig"]["defaults"]["links"]
    window = _in(sent, AT - 10 * MINUTE, AT, surface="shorts", region="br")
    [(version, _)] = collections.Counter(s.record["recommender_model_version"] for s in window).most_common(1)
    row = {"surface": "shorts", "region": "br", "recommender_model_version": version, "at_ms": str(AT)}
    url = re.sub(r"\$\{__data\.fields\.(\w+)\}", lambda m: row[m.group(1)], link["url"])
    url = url.replace("${job}", JOB).replace("&${__url_time_range}", "")
    assert url.startswith(f"/d/{dashboard_trace.UID}/")
    board = json.loads((provisioned / "trace.json").read_text())
    variables = {v["name"]: v.get("query", "") for v in board["templating"]["list"] if v["type"] == "textbox"}
    for part in url.split("?", 1)[1].split("&"):
        name, value = part.split("=", 1)
        variables[name.removeprefix("var-")] = value
    sql = dashboard_trace.queries(services.clickhouse.database)
    mine = _in(window, AT - 10 * MINUTE, AT, recommender_model_version=version)
    client = clickhouse.connect(services.clickhouse, database=services.clickhouse.database)
    try:
        def panel_rows(title: str) -> list[tuple]:
            query = macros.expand(sql[title], START_MS, AT + 60 * MINUTE, variables=variables)
            return client.query(query).result_rows

        [(_, impressions, _)] = panel_rows("Fed by: impressions and unsafe")
        assert impressions == len(mine) > 0
        assert {str(p): [first, last] for job, p, first, last in panel_rows("Fed by: Kafka offsets")
                if job == JOB} == _offsets(mine)
        assert dict(panel_rows("Fed by: safety-model versions")) == {"safety_text:1": len(mine)}
        assert dict(panel_rows("Fed by: policies")) == {policy_version: len(mine)}
        want = _top_items(expected, AT - 10 * MINUTE, AT, surface="shorts", region="br",
                          recommender_model_version=version)
        assert [(i, n) for i, n, _ in panel_rows("Fed by: items with the most unsafe impressions")] == \
            [(i, n) for i, n, _ in want]
    finally:
        client.close()
