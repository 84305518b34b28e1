"""Real producers' streams: both wire formats, evolved schemas, every codec, hostile input, in one stream.

Confluent-format records are written by confluent-kafka's own `AvroSerializer` through the stack's
schema registry (a real producer's code path, not ours); the expected counts come from the records the
test sent, not from the job's decoder. The job runs unbounded and must still be RUNNING at the end.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections import Counter

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from fastavro.schema import parse_schema

from jobs import runtime, safety_health
from riskstream.cli.generator import GeneratorSettings, generate
from riskstream.core import schemas
from riskstream.core.job_config import HealthJobSettings
from riskstream.io import kafka_admin, topics
from tests.e2e import kafka_io, store
from udfs.wire import AvroDecoder, Encoder, SchemaHistory, WireFormat

START_MS = 1_767_744_000_000  # 2026-01-07T00:00:00Z
MINUTE = 60_000
JOB_ID = "e2e-ingress"
CODECS = ("gzip", "snappy", "lz4", "zstd")
CHUNK = 40


def _schema_text(add: dict | None = None, drop: str | None = None) -> str:
    raw = json.loads(schemas.versions(schemas.IMPRESSION_HISTORY)[-1].text)
    raw["fields"] = [f for f in raw["fields"] if f["name"] != drop] + ([add] if add else [])
    return json.dumps(raw)


def _writers(registry_url: str, topic: str):
    """kind -> (encode(record) -> bytes, fields the writer schema has)."""
    client = SchemaRegistryClient({"url": registry_url})
    ctx = SerializationContext(topic, MessageField.VALUE)
    v1 = _schema_text()
    added = _schema_text(add={"name": "language", "type": ["null", "string"], "default": None})
    dropped = _schema_text(drop="caption")

    def confluent(text: str, extra: dict | None = None):
        serializer = AvroSerializer(client, text, conf={"auto.register.schemas": True})
        names = {f["name"] for f in json.loads(text)["fields"]}
        return lambda r: serializer({**{k: v for k, v in r.items() if k in names}, **(extra or {})}, ctx)

    single_object = Encoder(parse_schema(json.loads(v1)), WireFormat.SINGLE_OBJECT)
    return {
        "single-object-v1": single_object.encode,
        "confluent-v1": confluent(v1),
        "confluent-new-optional-field": confluent(added, {"language": "pt"}),
        "confluent-optional-field-removed": confluent(dropped),
    }


@pytest.fixture(scope="module")
def ingress_run(services, tmp_path_factory):
    kafka = services.kafka
    kafka_admin.ensure_topics(kafka.bootstrap_servers, topics.specs(kafka))
    start = kafka_admin.end_offsets(kafka.bootstrap_servers, kafka.impressions_topic)
    writers = _writers(services.registry.url, kafka.impressions_topic)
    kinds = list(writers)
    records = [g.record for g in generate(GeneratorSettings(seed=71, count=1200, rate=5.0, start_ms=START_MS))]
    single_object = writers["single-object-v1"]
    garbage = os.urandom(2 * 1024 * 1024)
    bad = {  # name -> (key, value, expected code)
        "garbage-2mib": (b"g", garbage, "not_avro"),
        "separator-in-category": (b"s", single_object({**records[0], "item_category": "news\x1fmusic"}),
                                  "invalid_dimension"),
        "overlong-surface": (b"o", writers["confluent-v1"]({**records[0], "surface": "s" * 200}), "invalid_dimension"),
        "tombstone": (b"t", None, "tombstone"),
        "empty": (b"e", b"", "empty_payload"),
        "unknown-schema-id": (b"u", b"\x00" + (987_654).to_bytes(4, "big") + b"\x02", "unknown_schema_id"),
    }
    good_positions, bad_positions, kind_counts, uncaptioned = [], {}, Counter(), 0
    for chunk_index, first in enumerate(range(0, len(records), CHUNK)):
        chunk = records[first:first + CHUNK]
        messages = []
        for j, record in enumerate(chunk):
            kind = kinds[(first + j) % len(kinds)]
            kind_counts[kind] += 1
            uncaptioned += kind == "confluent-optional-field-removed" or record["caption"] is None
            messages.append((record["user_id_hash"].encode(), writers[kind](record), record["event_time"]))
        names = list(bad)[chunk_index:chunk_index + 1]
        for name in names:  # one hostile record in each of the first chunks, timed like its neighbours
            key, value, _ = bad[name]
            messages.insert(CHUNK // 2, (key, value, chunk[CHUNK // 2]["event_time"]))
        positions = kafka_io.send(kafka.bootstrap_servers, kafka.impressions_topic, messages,
                                  compression=CODECS[chunk_index % len(CODECS)], headers=[("producer", b"e2e")])
        if names:
            bad_positions[names[0]] = positions.pop(CHUNK // 2)
        good_positions += positions
    job = HealthJobSettings(start_offsets=start, job_id=JOB_ID, checkpoint_interval_ms=2_000,
                            checkpoint_dir=tmp_path_factory.mktemp("checkpoints"))
    client = safety_health.start(services, job).client
    try:
        kafka_admin.wait_committed(kafka.bootstrap_servers, safety_health.consumer_group(JOB_ID),
                                   kafka.impressions_topic, kafka_admin.end_offsets(kafka.bootstrap_servers,
                                                                                    kafka.impressions_topic))
        status = str(client.get_job_status().result())
    finally:
        runtime.drain(client, tmp_path_factory.mktemp("savepoints"))
    return {"records": records, "bad": bad, "bad_positions": bad_positions, "status": status,
            "kind_counts": kind_counts, "garbage": garbage, "uncaptioned": uncaptioned}




def test_the_job_is_still_running_after_the_hostile_stream(ingress_run):
    assert "RUNNING" in ingress_run["status"]
    assert min(ingress_run["kind_counts"].values()) >= 290  # every writer kind is in the stream


def test_every_good_record_of_every_format_and_codec_is_counted_exactly(services, ingress_run):
    expected = Counter((r["event_time"] - r["event_time"] % MINUTE, r["surface"], r["region"],
                        r["recommender_model_version"], r["item_category"]) for r in ingress_run["records"])
    rows = store.query(services, "SELECT toUnixTimestamp64Milli(window_start) AS start, surface, region, "
                            "recommender_model_version AS version, item_category AS category, impressions, scored "
                            f"FROM safety_health FINAL WHERE job_id = '{JOB_ID}' AND window_seconds = 60")
    actual = Counter({(r["start"], r["surface"], r["region"], r["version"], r["category"]): r["impressions"]
                      for r in rows})
    assert actual == expected
    # Records written without a caption (the writer dropped the optional field) count as unscored.
    assert ingress_run["uncaptioned"] >= ingress_run["kind_counts"]["confluent-optional-field-removed"]
    assert sum(r["impressions"] - r["scored"] for r in rows) == ingress_run["uncaptioned"]


def test_every_bad_record_is_a_dead_letter_with_its_code_key_and_offset(services, ingress_run):
    bad, positions = ingress_run["bad"], ingress_run["bad_positions"]
    index = {(r["source_partition"], r["source_offset"]): r for r in
             store.query(services, f"SELECT * FROM dead_letters FINAL WHERE job_id = '{JOB_ID}'")}
    assert set(index) == set(positions.values())
    for name, position in positions.items():
        assert index[position]["error_class"] == bad[name][2], name
    garbage = index[positions["garbage-2mib"]]
    assert (garbage["payload_bytes"], garbage["payload_truncated"], garbage["payload_sha256"]) == \
           (len(ingress_run["garbage"]), True, hashlib.sha256(ingress_run["garbage"]).hexdigest())
    assert index[positions["unknown-schema-id"]]["schema_ref"] == "987654"

    history = SchemaHistory.from_folder(schemas.DEAD_LETTER_HISTORY)
    decoder = AvroDecoder(history.latest, history)
    letters = {(d["source_partition"], d["source_offset"]): d for d in
               (decoder.decode(m.value()) for m in kafka_io.read_all(services.kafka.bootstrap_servers,
                                                                      services.kafka.dead_letter_topic))
               if d["job_id"] == JOB_ID}
    assert set(letters) == set(positions.values())
    for name, position in positions.items():
        letter = letters[position]
        assert (letter["error_class"], letter["key"]) == (bad[name][2], bad[name][0]), name
        assert letter["headers"] == [{"key": "producer", "value": b"e2e"}], name
    assert letters[positions["tombstone"]]["payload_size"] == -1
    assert letters[positions["empty"]]["payload_size"] == 0
    big = letters[positions["garbage-2mib"]]
    assert big["payload"] == ingress_run["garbage"][:len(big["payload"])] and big["payload_truncated"]
