"""Retention in every store, from one set of settings: TTLs read back from ClickHouse's own system.tables (and
rows past them gone at a merge), topic retention read back from the brokers, `riskstream retention show`."""
from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import uuid
from datetime import datetime, timedelta, timezone

from riskstream.cli.main import main
from riskstream.core import retention
from riskstream.core.config import RetentionSettings
from riskstream.io import clickhouse, kafka_admin, topics
from tests.e2e import store

DATABASE = "riskstream_retention_test"
DAY_MS = 24 * 3600 * 1000


def test_every_table_has_the_ttl_of_its_class_as_clickhouse_reports_it(services):
    with store.scratch_database(services, DATABASE) as client:
        ttls = clickhouse.table_ttls(client)
        assert set(ttls) == {t.table for t in retention.TABLES} | {retention.LEDGER}  # no table without a class
        assert ttls[retention.LEDGER] is None
        defaults = RetentionSettings()
        assert {t.table: ttls[t.table] for t in retention.TABLES} == {
            "dead_letters": "toDateTime(written_at) + toIntervalDay(28)",
            "late_events": "toDateTime(written_at) + toIntervalDay(28)",
            "label_outcomes": "toDateTime(written_at) + toIntervalDay(365)",
            "safety_health": "toDateTime(written_at) + toIntervalDay(400)",
            "shadow_health": "toDateTime(written_at) + toIntervalDay(400)",
            "breaker_transitions": "toDateTime(written_at) + toIntervalDay(400)",
            "alert_causes": "toDateTime(explained_at) + toIntervalDay(400)",
            "bias_findings": "toDateTime(evaluated_at) + toIntervalDay(400)",
            "smoke_minute_counts": "toDateTime(written_at) + toIntervalDay(400)",
            "audit_log": "toDateTime(written_at) + toIntervalDay(2557)",
        } and defaults.audit_days == 2557

        # Other settings, applied on the next migrate: only the tables whose TTL changes are altered.
        shorter = RetentionSettings(item_days=3)
        assert clickhouse.apply_retention(client, shorter) == ["dead_letters", "late_events"]
        assert clickhouse.apply_retention(client, shorter) == []
        assert clickhouse.table_ttls(client)["dead_letters"] == "toDateTime(written_at) + toIntervalDay(3)"

        # A row written 4 days ago is past it: gone at the next merge; yesterday's stays.
        now = datetime.now(timezone.utc)
        columns = ["source_topic", "source_partition", "source_offset", "source_timestamp", "error_class",
                   "error_message", "payload_bytes", "job_id", "written_at"]
        client.insert("dead_letters", [["t", 0, 1, now, "invalid_avro", "x", 1, "j", now - timedelta(days=4)],
                                       ["t", 0, 2, now, "invalid_avro", "x", 1, "j", now - timedelta(days=1)]],
                      column_names=columns)
        client.command("OPTIMIZE TABLE dead_letters FINAL")
        assert client.query("SELECT source_offset FROM dead_letters").result_rows == [(2,)]


def test_topics_take_the_retention_settings_when_created_and_when_they_change(services):
    suffix = uuid.uuid4().hex[:8]
    kafka = dataclasses.replace(services.kafka, dead_letter_topic=f"retention-dlq-{suffix}",
                                moderation_labels_topic=f"retention-labels-{suffix}")
    mine = [s for s in topics.specs(kafka) if s.name in (kafka.dead_letter_topic, kafka.moderation_labels_topic)]
    kafka_admin.ensure_topics(kafka.bootstrap_servers, mine)
    found = kafka_admin.topic_configs(kafka.bootstrap_servers, [s.name for s in mine])
    assert found[kafka.dead_letter_topic]["retention.ms"] == str(28 * DAY_MS)
    assert found[kafka.moderation_labels_topic]["retention.ms"] == str(365 * DAY_MS)

    changed = dataclasses.replace(kafka, retention=RetentionSettings(item_days=7, label_days=90))
    kafka_admin.ensure_topics(kafka.bootstrap_servers,
                              [s for s in topics.specs(changed) if s.name in {m.name for m in mine}])
    found = kafka_admin.topic_configs(kafka.bootstrap_servers, [s.name for s in mine])
    assert found[kafka.dead_letter_topic]["retention.ms"] == str(7 * DAY_MS)
    assert found[kafka.moderation_labels_topic]["retention.ms"] == str(90 * DAY_MS)
    assert found[kafka.dead_letter_topic]["cleanup.policy"] == "delete"


def test_retention_show_reports_each_store_as_configured_and_what_differs(services, stack):
    suffix = uuid.uuid4().hex[:8]
    names = {"--impressions-topic": f"retention-impressions-{suffix}", "--dead-letter-topic": f"retention-dlq-{suffix}",
             "--policies-topic": f"retention-policies-{suffix}", "--item-verdicts-topic": f"retention-verdicts-{suffix}",
             "--breaker-state-topic": f"retention-breakers-{suffix}",
             "--moderation-labels-topic": f"retention-labels-{suffix}"}
    common = ["--state-dir", str(stack.state_dir), "--clickhouse-database", DATABASE,
              *[part for item in names.items() for part in item]]

    def show(*extra: str) -> tuple[int, list[dict]]:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(["retention", "show", "--json", *common, *extra])
        return code, [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]

    with store.scratch_database(services, DATABASE):
        assert main(["topics", *common]) == 0
        code, rows = show()
        assert code == 0 and all(r["in_force"] == "as configured" for r in rows if r["store"] != "flink")
        kept = {(r["store"], r["name"]): r["configured"] for r in rows}
        assert kept[("clickhouse", "audit_log")] == "2557 days (audit)"
        assert kept[("kafka", names["--dead-letter-topic"])] == "28 days"
        assert kept[("kafka", names["--item-verdicts-topic"])] == "compacted: the newest record per key"
        assert kept[("flink", "savepoints")] == "newest 5, at most 7 days"
        # Settings changed but not applied yet: show names what differs, and fails.
        code, rows = show("--aggregate-retention-days", "90", "--item-retention-days", "14")
        differing = {r["name"]: r["in_force"] for r in rows if r["in_force"] != "as configured" and r["store"] != "flink"}
        assert code == 1 and differing == {
            **{t.table: "TTL toDateTime(%s) + toIntervalDay(400)" % t.written_column
               for t in retention.TABLES if t.keep is retention.Keep.AGGREGATES},
            "dead_letters": "TTL toDateTime(written_at) + toIntervalDay(28)",
            "late_events": "TTL toDateTime(written_at) + toIntervalDay(28)",
            names["--dead-letter-topic"]: "28 days"}
