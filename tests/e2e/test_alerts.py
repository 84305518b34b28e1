"""The provisioned alert rules against what the job wrote for a generated stream with an incident."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from dashboards import render, rule_eval
from jobs import safety_health
from riskstream.cli import main as cli
from riskstream.core import retention
from riskstream.io import clickhouse, erasure, kafka_admin, topics
from riskstream.core.job_config import HealthJobSettings
from riskstream.cli.generator import GeneratorSettings, Incident, generate
from riskstream.cli.produce import produce, produce_faults

MINUTE = 60_000
START_MS = 1_769_904_000_000  # 2026-02-01T00:00:00Z, a day no other test writes
INCIDENT_MINUTE = 30          # shorts in Brazil serve 10x the unsafe items from here to the end (minute 45)
MALFORMED = 100               # undecodable records at minute 45, after the stream


GENERATOR = GeneratorSettings(seed=61, count=45 * 60 * 20, rate=20.0, start_ms=START_MS,
                              incidents=(Incident("shorts", "br", start=INCIDENT_MINUTE),))


@pytest.fixture(scope="module")
def incident_run(services, tmp_path_factory):
    """45 minutes at 20 impressions/s, clean for 30, then the incident, then malformed records;
    one bounded job over it."""
    kafka = services.kafka
    kafka_admin.ensure_topics(kafka.bootstrap_servers, topics.specs(kafka))
    start = kafka_admin.end_offsets(kafka.bootstrap_servers, kafka.impressions_topic)
    generator = GENERATOR
    produce(kafka, generator, registry=services.registry)
    produce_faults(kafka, generator, late=0, malformed=MALFORMED, registry=services.registry)  # Kafka timestamp: minute 45, the end
    end = kafka_admin.end_offsets(kafka.bootstrap_servers, kafka.impressions_topic)
    safety_health.run(services, HealthJobSettings(start_offsets=start, end_offsets=end, bounded=True,
                                                  job_id="e2e-alerts",
                                                  checkpoint_dir=tmp_path_factory.mktemp("checkpoints")))
    client = clickhouse.connect(services.clickhouse, database=services.clickhouse.database)
    yield client
    client.close()


def _instances(client, at_ms: int) -> list[rule_eval.Instance]:
    return [i for rule in rule_eval.load(render.ALERT_RULES) for i in rule_eval.evaluate(client, rule, at_ms)]


def test_no_rule_fires_on_the_clean_stream(incident_run):
    for minute in (15, INCIDENT_MINUTE):
        instances = _instances(incident_run, START_MS + minute * MINUTE)
        assert {i.rule for i in instances} == {r.uid for r in rule_eval.load(render.ALERT_RULES)}
        assert [i for i in instances if i.state != "normal"] == [], minute


def test_the_spike_rule_fires_for_the_incident_slice_and_only_for_it(incident_run):
    instances = _instances(incident_run, START_MS + 45 * MINUTE)
    firing = {(i.rule, i.labels) for i in instances if i.firing}
    # The same incident has tripped the circuit breaker of that slice's busier recommender version.
    assert firing == {("riskstream-unsafe-rate-spike", (("surface", "shorts"), ("region", "br"))),
                      ("riskstream-breaker-open", (("surface", "shorts"), ("region", "br"),
                                                   ("recommender_model_version", "recsys-2026.10")))}
    # Every other slice with enough volume was judged, and was normal.
    spike = [i for i in instances if i.rule == "riskstream-unsafe-rate-spike"]
    assert len(spike) >= 8


def test_the_spike_rule_is_pending_for_its_for_period_before_it_fires(incident_run):
    """The condition first holds at minute 33 (the 10-minute window is then a third incident); with
    `for: 3m` the instance is pending until minute 36 and firing from then on."""
    shorts_br = (("surface", "shorts"), ("region", "br"))

    def state(minute: int) -> str:
        instances = _instances(incident_run, START_MS + minute * MINUTE)
        return {i.labels: i.state for i in instances if i.rule == "riskstream-unsafe-rate-spike"}[shorts_br]

    assert [state(m) for m in (32, 33, 35, 36)] == ["normal", "pending", "pending", "firing"]


def test_the_alerts_test_command_reports_the_firing_instance(incident_run, services, stack, capsys):
    at = "2026-02-01T00:45:00Z"
    assert cli.main(["alerts", "test", "--at", at, "--state-dir", str(stack.state_dir),
                     "--clickhouse-url", services.clickhouse.url]) == 0
    out = capsys.readouterr().out
    firing = [line.split() for line in out.splitlines() if line.strip().startswith("firing")]
    assert sorted(line[:4] for line in firing) == [["firing", "Circuit", "breaker", "open"],
                                                   ["firing", "Unsafe", "rate", "spike"]]
    assert "surface=shorts, region=br" in out and out.rstrip().endswith("2 alert instance(s) firing")


def _firing(client, minute: int) -> set[str]:
    return {i.rule for i in _instances(client, START_MS + minute * MINUTE) if i.firing}


def test_the_dead_letter_rule_fires_while_its_window_holds_the_malformed_records(incident_run):
    """100 dead letters at minute 45 next to 1,200 impressions a minute: over 1% of every 10-minute
    range from minute 49 on (and `for: 5m` has passed at 54); at 45 the range holds 10 minutes of impressions."""
    assert "riskstream-dead-letter-rate" not in _firing(incident_run, 45)
    assert "riskstream-dead-letter-rate" in _firing(incident_run, 54)


def test_the_stall_rule_fires_when_no_window_has_closed_for_ten_minutes(incident_run):
    """The last window ends at minute 45: more than 600 s later from minute 56, firing after `for: 2m`."""
    assert "riskstream-pipeline-stalled" not in _firing(incident_run, 54)
    assert "riskstream-pipeline-stalled" in _firing(incident_run, 58)


def test_the_spike_notification_names_the_causes_explain_found_while_it_was_pending(incident_run, services, stack):
    """The CronJob runs `explain --alerts --write` every minute. Run at minute 33, when the alert turns pending, it
    explains shorts/br; when the alert fires at 36 the rule's causes annotation (refId B, matched to the instance
    by its labels as Grafana does) holds that run's three top causes, in rank order."""
    shorts_br = (("surface", "shorts"), ("region", "br"))

    def spike(minute: int) -> rule_eval.Instance:
        return {i.labels: i for i in _instances(incident_run, START_MS + minute * MINUTE)
                if i.rule == "riskstream-unsafe-rate-spike"}[shorts_br]

    assert spike(32).annotations["causes"].startswith("not explained yet")
    at = datetime.fromtimestamp((START_MS + 33 * MINUTE) / 1000, timezone.utc).isoformat()
    assert cli.main(["explain", "--alerts", "--at", at, "--write", "--state-dir", str(stack.state_dir),
                     "--clickhouse-url", services.clickhouse.url]) == 0
    written = incident_run.query(
        "SELECT rank, cause, explanatory_power FROM alert_causes FINAL WHERE job_id = 'e2e-alerts' "
        "AND slice = 'surface=shorts,region=br' AND window_end = {end:DateTime64(3)} ORDER BY rank LIMIT 3",
        parameters={"end": datetime.fromtimestamp((START_MS + 33 * MINUTE) / 1000, timezone.utc)}).result_rows
    assert len(written) == 3
    firing = spike(36)
    assert firing.firing and firing.values["B"].value == 3.0
    parts = firing.annotations["causes"].split("; ")
    assert [p.split(": ")[0] for p in parts] == [f"{rank}. {cause}" for rank, cause, _ in written]
    assert abs(float(parts[0].split(": ")[1].split("%")[0]) - 100 * written[0][2]) <= 0.5
    # Other slices, not explained, say so rather than print another slice's causes.
    others = [i for i in _instances(incident_run, START_MS + 36 * MINUTE)
              if i.rule == "riskstream-unsafe-rate-spike" and i.labels != shorts_br]
    assert others and all(i.annotations["causes"].startswith("not explained yet") for i in others)


def test_no_aggregate_table_holds_a_viewer_or_creator_id(incident_run):
    """Every aggregate row the job (and the commands over it) wrote, in every column, nested ones included,
    against every viewer and creator id of the input: personal ids stay in the raw topics."""
    records = [g.record for g in generate(GENERATOR)]
    viewers = sorted({r["user_id_hash"] for r in records})
    creators = sorted({r["creator_id"] for r in records})
    assert len(viewers) > 100 and len(creators) > 50
    written = {table: incident_run.query(f"SELECT count() FROM {table}").result_rows[0][0]
               for table in retention.AGGREGATES}
    assert written["safety_health"] > 1000
    assert {table: erasure.rows_naming(incident_run, table, viewers + creators)
            for table in retention.AGGREGATES} == dict.fromkeys(retention.AGGREGATES, 0)
    columns = incident_run.query("SELECT table, name FROM system.columns WHERE database = currentDatabase() "
                                 "AND table IN {tables:Array(String)}",
                                 parameters={"tables": list(retention.AGGREGATES)}).result_rows
    assert not [c for c in columns if any(word in c[1] for word in ("user", "viewer_id", "creator_id"))]
    # The scan finds an id where one is: the items of the top-unsafe lists are there.
    item = incident_run.query("SELECT top_unsafe_items[1].item_id FROM safety_health WHERE job_id = 'e2e-alerts' "
                              "AND length(top_unsafe_items) > 0 LIMIT 1").result_rows[0][0]
    assert erasure.rows_naming(incident_run, "safety_health", [item]) >= 1
