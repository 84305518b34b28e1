"""Kafka -> Flink -> Triton -> ClickHouse: the smoke job's rows equal a plain-Python count of its input."""
from __future__ import annotations

from collections import Counter

from confluent_kafka import Producer

from jobs import smoke
from riskstream.io import clickhouse, kafka_admin, topics
from riskstream.cli.generator import GeneratorSettings, Incident, generate
from riskstream.cli.produce import produce
from riskstream.io.scoring import SafetyScorer

START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z, a whole minute


def _expected(settings: GeneratorSettings, services) -> Counter:
    records = [g.record for g in generate(settings)]
    scorer = SafetyScorer(services.triton)
    scorer.open()
    try:
        scores = scorer.score([r["caption"] for r in records]).max(axis=1)
    finally:
        scorer.close()
    expected = Counter()
    for record, score in zip(records, scores):
        key = ((record["event_time"] - START_MS) // 60_000, record["surface"])
        expected[key + ("impressions",)] += 1
        expected[key + ("scored",)] += 1
        expected[key + ("unsafe",)] += int(score >= smoke.UNSAFE_THRESHOLD)
    return expected


def test_smoke_job_counts_every_impression_once_with_triton_scores(services):
    kafka_admin.ensure_topics(services.kafka.bootstrap_servers, topics.specs(services.kafka))
    start = kafka_admin.end_offsets(services.kafka.bootstrap_servers, services.kafka.impressions_topic)
    settings = GeneratorSettings(seed=11, count=3000, rate=20.0, start_ms=START_MS,
                                 incidents=(Incident.parse("surface=shorts,region=br,start=1,multiplier=20"),))
    report = produce(services.kafka, settings, registry=services.registry)
    # Undecodable payloads are counted under their own surface, never dropped.
    producer = Producer({"bootstrap.servers": services.kafka.bootstrap_servers})
    for payload in (b"", b"garbage", b"\xc3\x01truncated"):
        producer.produce(services.kafka.impressions_topic, value=payload, timestamp=START_MS + 1000)
    producer.flush(30)

    lineage = smoke.run(services, start)

    client = clickhouse.connect(services.clickhouse, database=services.clickhouse.database)
    try:
        rows = client.query(
            "SELECT toUnixTimestamp64Milli(window_start), surface, impressions, scored, unsafe, model_name, "
            "model_version FROM smoke_minute_counts FINAL WHERE job_id = {job:String}",
            parameters={"job": lineage.job_id}).result_rows
    finally:
        client.close()

    actual = Counter()
    for window_ms, surface, impressions, scored, unsafe, model_name, model_version in rows:
        assert (model_name, model_version) == ("safety_text", "1")
        key = ((window_ms - START_MS) // 60_000, surface)
        actual[key + ("impressions",)] += impressions
        actual[key + ("scored",)] += scored
        actual[key + ("unsafe",)] += unsafe
    expected = _expected(settings, services)
    expected[(0, "<undecodable>", "impressions")] += 3
    expected[(0, "<undecodable>", "scored")] += 0
    expected[(0, "<undecodable>", "unsafe")] += 0
    assert +actual == +expected
    assert sum(v for k, v in actual.items() if k[2] == "impressions") == report.count + 3
