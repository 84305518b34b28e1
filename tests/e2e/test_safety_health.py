"""The safety-health job through real Kafka, Flink, Triton and ClickHouse, against a plain-Python reference."""
from __future__ import annotations


import pytest
from fastavro.schema import parse_schema

from jobs import safety_health
from riskstream.io import kafka_admin, topics
from riskstream.core import paths
from riskstream.core.job_config import HealthJobSettings, ScoreCacheSettings
from riskstream.cli.generator import Catalogue, GeneratorSettings, Incident, generate
from tests.e2e import kafka_io, store, reference
from riskstream.core import schemas
from udfs.wire import AvroDecoder, Encoder, SchemaHistory, WireFormat
from riskstream.io.triton_client import triton_counts

START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
CODEC = Encoder(SchemaHistory.from_folder(schemas.IMPRESSION_HISTORY).latest, WireFormat.SINGLE_OBJECT)


def _impressions():
    """Four minutes of impressions with an incident, some moved up to 3 s out of order (within the bound)."""
    settings = GeneratorSettings(seed=5, count=2400, rate=10.0, start_ms=START_MS,
                                 incidents=(Incident.parse("surface=shorts,region=br,start=1,multiplier=20"),))
    records = [g.record for g in generate(settings)]
    for i in range(0, len(records) - 30, 7):
        records.insert(i + 30, records.pop(i))
    return records


def _bad_messages(good: dict) -> dict[str, tuple[bytes | None, int]]:
    other = {"type": "record", "name": "Other", "namespace": "elsewhere", "fields": [{"name": "x", "type": "long"}]}
    encoded = CODEC.encode(good)
    return {
        "empty_payload": (b"", START_MS + 1_000),
        "tombstone": (None, START_MS + 2_000),
        "schema_mismatch": (encoded[:-7], START_MS + 3_000),
        "unknown_schema": (Encoder(parse_schema(other), WireFormat.SINGLE_OBJECT).encode({"x": 1}), START_MS + 4_000),
        "not_avro": (b'{"event_id": "json-is-not-avro"}', START_MS + 5_000),
        "absurd_past": (CODEC.encode({**good, "event_time": 0}), START_MS + 6_000),
        "absurd_future": (CODEC.encode({**good, "event_time": START_MS + 100 * 365 * 86_400_000}), START_MS + 7_000),
    }


@pytest.fixture(scope="module")
def health_run(services, tmp_path_factory):
    kafka = services.kafka
    kafka_admin.ensure_topics(kafka.bootstrap_servers, topics.specs(kafka))
    start = kafka_admin.end_offsets(kafka.bootstrap_servers, kafka.impressions_topic)
    records = _impressions()
    bad = _bad_messages(records[0])
    messages = [(r["user_id_hash"].encode(), CODEC.encode(r), r["event_time"]) for r in records]
    bad_at = {}
    for n, (name, (payload, timestamp)) in enumerate(bad.items()):
        bad_at[name] = 100 + 300 * n
        messages.insert(bad_at[name], (b"bad", payload, timestamp))
    positions = kafka_io.send(kafka.bootstrap_servers, kafka.impressions_topic, messages)
    bad_positions = {name: positions[index] for name, index in bad_at.items()}
    good_positions = [p for i, p in enumerate(positions) if i not in set(bad_at.values())]

    job = HealthJobSettings(bounded=True, start_offsets=start, job_id="e2e-correctness",
                            checkpoint_dir=tmp_path_factory.mktemp("checkpoints"), checkpoint_interval_ms=2_000)
    safety_health.run(services, job)
    return records, good_positions, bad_positions




def test_every_aggregate_equals_the_plain_python_reference(services, health_run):
    records, positions, _ = health_run
    reference.assert_rows_equal(services, "e2e-correctness", records, positions)


def test_with_a_small_score_cache_on_a_zipf_catalogue_every_aggregate_still_equals_the_reference(services, tmp_path):
    """Head items repeat (hits), the tail does not, and a 300-item cache evicts all the time: the rows are
    those of the reference, which scores every impression; the cache's counts say it was exercised."""
    kafka = services.kafka
    kafka_admin.ensure_topics(kafka.bootstrap_servers, topics.specs(kafka))
    start = kafka_admin.end_offsets(kafka.bootstrap_servers, kafka.impressions_topic)
    settings = GeneratorSettings(seed=8, count=3000, rate=20.0, start_ms=START_MS + 3_600_000,
                                 catalogue=Catalogue(items=50_000, zipf_exponent=1.1, new_item_share=0.05))
    records = [g.record for g in generate(settings)]
    positions = kafka_io.send(kafka.bootstrap_servers, kafka.impressions_topic,
                              [(r["user_id_hash"].encode(), CODEC.encode(r), r["event_time"]) for r in records])
    model = services.triton.model_name
    inferred_before, _ = triton_counts(services.triton.url, model)
    safety_health.run(services, HealthJobSettings(
        bounded=True, start_offsets=start, job_id="e2e-score-cache", checkpoint_dir=tmp_path,
        # Bundles of 500: the cache is crossed between batches (one batch of all 3,000 would send each
        # distinct item once, and show no eviction).
        bundle_size=500, score_cache=ScoreCacheSettings(max_items=300)))
    sent = triton_counts(services.triton.url, model)[0] - inferred_before  # Triton's own count of the job's items
    reference.assert_rows_equal(services, "e2e-score-cache", records, positions)
    # Hits: far fewer items went to the model than impressions. Evictions: more than the distinct items,
    # since a 300-item cache forgot some that came back (with no bound, each would be sent exactly once).
    assert len({r["item_id"] for r in records}) < sent < len(records) * 3 // 4


def test_the_incident_slice_is_the_top_unsafe_slice_in_its_window(services, health_run):
    rows = store.query(services, """
        SELECT window_start, surface, region, sum(unsafe) / sum(scored) AS unsafe_rate, sum(scored) AS n
        FROM safety_health FINAL WHERE job_id = 'e2e-correctness' AND window_seconds = 300
        GROUP BY window_start, surface, region HAVING n >= 20 ORDER BY unsafe_rate DESC LIMIT 1""")
    assert (rows[0]["surface"], rows[0]["region"]) == ("shorts", "br")


def test_bad_input_reaches_the_dead_letter_topic_and_index_with_offsets(services, health_run):
    records, _, bad_positions = health_run
    expected_class = {"empty_payload": "empty_payload", "tombstone": "tombstone",
                      "schema_mismatch": "schema_mismatch", "unknown_schema": "unknown_schema",
                      "not_avro": "not_avro", "absurd_past": "absurd_event_time", "absurd_future": "absurd_event_time"}
    index = {(r["source_partition"], r["source_offset"]): r for r in
             store.query(services, "SELECT * FROM dead_letters FINAL WHERE job_id = 'e2e-correctness'")}
    assert set(index) == set(bad_positions.values())
    for name, position in bad_positions.items():
        assert index[position]["error_class"] == expected_class[name], name

    history = SchemaHistory.from_folder(schemas.DEAD_LETTER_HISTORY)
    dead_letter_codec = AvroDecoder(history.latest, history)
    letters = [dead_letter_codec.decode(m.value()) for m in
               kafka_io.read_all(services.kafka.bootstrap_servers, services.kafka.dead_letter_topic)]
    mine = {(d["source_partition"], d["source_offset"]): d for d in letters if d["job_id"] == "e2e-correctness"}
    assert set(mine) == set(bad_positions.values())
    original = _bad_messages(records[0])
    for name, position in bad_positions.items():
        assert mine[position]["payload"] == (original[name][0] or b""), name
        assert mine[position]["error_message"]


def test_the_benchmarks_baseline_peer_writes_the_same_tumbling_rows_as_the_job(services, health_run):
    """bench.compare refuses to print unless its hand-written peer does the job's work; keep that true."""
    from bench.compare import tumbling_rows
    from bench.peers import baseline

    _, good_positions, bad_positions = health_run
    positions = good_positions + list(bad_positions.values())
    start = {p: min(o for q, o in positions if q == p) for p, _ in positions}
    end = {p: max(o for q, o in positions if q == p) + 1 for p, _ in positions}
    result = baseline.run(services, start, end, "e2e-baseline-peer", paths.REPO_ROOT / "policies" / "default.toml")
    assert result["dead_letters"] == len(bad_positions)
    job_rows = tumbling_rows(services, "e2e-correctness")
    assert job_rows and tumbling_rows(services, "e2e-baseline-peer") == job_rows


def test_the_job_at_parallelism_two_writes_the_same_rows(services, health_run, tmp_path):
    """Two source, ingest and window subtasks (and the single writer) give what one of each gave."""
    _, good_positions, bad_positions = health_run
    positions = good_positions + list(bad_positions.values())
    start = {p: min(o for q, o in positions if q == p) for p, _ in positions}
    end = {p: max(o for q, o in positions if q == p) + 1 for p, _ in positions}
    safety_health.run(services, HealthJobSettings(
        bounded=True, start_offsets=start, end_offsets=end, job_id="e2e-parallel", parallelism=2,
        checkpoint_dir=tmp_path / "checkpoints", checkpoint_interval_ms=2_000))

    def rows(job_id: str) -> dict:
        found = store.query(services, "SELECT *, toUnixTimestamp64Milli(window_start) AS start_ms FROM safety_health "
                                      "FINAL WHERE job_id = {job:String}", job=job_id)
        return {(r["window_seconds"], r["start_ms"], r["surface"], r["region"], r["recommender_model_version"],
                 r["item_category"]): r for r in found}

    serial, parallel = rows("e2e-correctness"), rows("e2e-parallel")
    assert serial and parallel.keys() == serial.keys()
    for key, want in serial.items():
        got = parallel[key]
        for column in ("impressions", "scored", "unscored", "unsafe", "distinct_items", "distinct_creators",
                       "unsafe_by_category", "offset_ranges", "first_event_time"):
            assert got[column] == want[column], (key, column)
        assert got["harm"] == pytest.approx(want["harm"], rel=1e-9), key
        # Exact counts per score bucket: two runs (here at another parallelism) give the same quantiles.
        assert got["score_histogram"] == want["score_histogram"], key
        for q in ("score_p50", "score_p95", "score_p99"):
            assert got[q] == want[q], (key, q)
    dead = store.query(services, "SELECT source_partition, source_offset FROM dead_letters FINAL "
                                 "WHERE job_id = 'e2e-parallel'")
    assert {(r["source_partition"], r["source_offset"]) for r in dead} == set(bad_positions.values())
