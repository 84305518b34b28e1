"""Impression validation and dead letters, without services."""
import hashlib

import pytest

from riskstream.cli.generator import GeneratorSettings, generate
from riskstream.core import schemas
from riskstream.core.job_config import DecodeSettings
from riskstream.core.errors import DecodeError, ErrorCode
from riskstream.core.rows import KafkaRecord
from udfs.dead_letters import DeadLetterDecoder, DeadLetterEncoder, dead_letter, index_values
from udfs.dimensions import parse_slice_key, slice_key
from udfs.impressions import ImpressionDecoder
from udfs.wire import AvroDecoder, Encoder, SchemaHistory, WireFormat

KAFKA_TS = 1_767_225_600_000
HISTORY = SchemaHistory.from_folder(schemas.IMPRESSION_HISTORY)
ENCODER = Encoder(HISTORY.latest, WireFormat.SINGLE_OBJECT)


def _record(value, key=b"k", headers=()):
    return KafkaRecord(value=value, key=key, headers=headers, topic="impressions", partition=2, offset=41,
                       timestamp_ms=KAFKA_TS)


@pytest.fixture(scope="module")
def decoder():
    return ImpressionDecoder()


@pytest.fixture(scope="module")
def impression():
    return next(iter(generate(GeneratorSettings(count=1, start_ms=KAFKA_TS)))).record


def _code(decoder, value) -> ErrorCode:
    with pytest.raises(DecodeError) as caught:
        decoder.decode(_record(value))
    return caught.value.code


def test_a_good_impression_decodes_into_a_typed_row(decoder, impression):
    row = decoder.decode(_record(ENCODER.encode(impression)))
    assert (row.event_time, row.caption, row.item_id, row.source_partition, row.source_offset) == \
           (impression["event_time"], impression["caption"], impression["item_id"], 2, 41)


@pytest.mark.parametrize("event_time", [0, KAFKA_TS - 8 * 86_400_000, KAFKA_TS + 2 * 3_600_000])
def test_absurd_event_times_are_rejected(decoder, impression, event_time):
    assert _code(decoder, ENCODER.encode({**impression, "event_time": event_time})) is ErrorCode.ABSURD_EVENT_TIME


def test_tombstones_and_empty_values_are_told_apart(decoder):
    assert _code(decoder, None) is ErrorCode.TOMBSTONE
    assert _code(decoder, b"") is ErrorCode.EMPTY_PAYLOAD


@pytest.mark.parametrize("field, value", [
    ("item_category", "news\x1fmusic"), ("surface", "x" * 65), ("region", ""), ("recommender_model_version", "v 1"),
    ("surface", "shorts\n"),
])
def test_dimension_values_outside_the_rules_are_rejected(decoder, impression, field, value):
    assert _code(decoder, ENCODER.encode({**impression, field: value})) is ErrorCode.INVALID_DIMENSION


def test_cohorts_decode_into_the_row_and_records_without_them_are_unknown(decoder, impression):
    row = decoder.decode(_record(ENCODER.encode({**impression, "viewer_age_band": "18-24", "viewer_locale": "pt-BR",
                                                 "creator_cohort": "new"})))
    assert (row.viewer_cohort, row.creator_cohort) == ("18-24|pt-BR", "new")
    row = decoder.decode(_record(ENCODER.encode({**impression, "viewer_age_band": None, "viewer_locale": "ja-JP",
                                                 "creator_cohort": None})))
    assert (row.viewer_cohort, row.creator_cohort) == ("unknown|ja-JP", "unknown")
    v1 = SchemaHistory(HISTORY.schemas[:1]).latest
    old = {k: v for k, v in impression.items() if k in {f["name"] for f in v1["fields"]}}
    row = decoder.decode(_record(Encoder(v1, WireFormat.SINGLE_OBJECT).encode(old)))
    assert (row.viewer_cohort, row.creator_cohort) == ("unknown|unknown", "unknown")


@pytest.mark.parametrize("field, value", [("viewer_age_band", "18-24|x"), ("viewer_locale", "x" * 65),
                                          ("creator_cohort", "new cohort")])
def test_cohort_values_outside_the_dimension_rules_are_rejected(decoder, impression, field, value):
    assert _code(decoder, ENCODER.encode({**impression, field: value})) is ErrorCode.INVALID_DIMENSION


def test_dimension_rules_come_from_config(impression):
    strict = ImpressionDecoder(DecodeSettings(dimension_pattern="[A-Za-z0-9_.+-]+", dimension_max_length=14))
    assert strict.decode(_record(ENCODER.encode({**impression, "surface": "shorts"}))).surface == "shorts"
    assert _code(strict, ENCODER.encode({**impression, "surface": "shorts/x"})) is ErrorCode.INVALID_DIMENSION
    assert _code(strict, ENCODER.encode({**impression, "surface": "a" * 15})) is ErrorCode.INVALID_DIMENSION


@pytest.mark.parametrize("values", [("a", "b", "c", "d"), ("a\x1fb", "", "1:x", "::"), ("", "", "", "")])
def test_slice_keys_round_trip_and_never_collide(values):
    assert parse_slice_key(slice_key(values)) == values
    assert slice_key(("a\x1fb", "c", "d", "e")) != slice_key(("a", "b\x1fc", "d", "e"))


def test_dead_letters_keep_key_headers_and_where_they_came_from():
    record = _record(b"\x00raw", key=b"user-1", headers=(("trace", b"t1"), ("empty", None)))
    letter = dead_letter(record, DecodeError(ErrorCode.NOT_AVRO, "why"), "job-1", DecodeSettings())
    history = SchemaHistory.from_folder(schemas.DEAD_LETTER_HISTORY)
    fields = AvroDecoder(history.latest, history).decode(DeadLetterEncoder().encode(letter))
    assert (fields["payload"], fields["source_partition"], fields["source_offset"], fields["error_class"],
            fields["job_id"], fields["key"]) == (b"\x00raw", 2, 41, "not_avro", "job-1", b"user-1")
    assert fields["headers"] == [{"key": "trace", "value": b"t1"}, {"key": "empty", "value": None}]
    assert (fields["payload_size"], fields["payload_truncated"]) == (4, False)


def test_a_dead_letter_decodes_back_to_the_letter_and_its_clickhouse_index():
    value = bytes(range(256)) * 16
    record = _record(value, key=b"k", headers=(("trace", b"t1"), ("empty", None)))
    letter = dead_letter(record, DecodeError(ErrorCode.NOT_AVRO, "why"), "job-1",
                         DecodeSettings(dead_letter_max_bytes=1000))
    decoded = DeadLetterDecoder().decode(DeadLetterEncoder().encode(letter))
    assert decoded == letter
    assert index_values(decoded) == ["impressions", 2, 41, KAFKA_TS, "not_avro", "why", len(value),
                                     hashlib.sha256(value).hexdigest(), True, "16909060", "job-1"]  # 00 01020304: a Confluent id


def test_oversized_values_are_truncated_with_length_and_hash():
    value = bytes(range(256)) * 8192  # 2 MiB
    settings = DecodeSettings(dead_letter_max_bytes=1000)
    letter = dead_letter(_record(value), DecodeError(ErrorCode.NOT_AVRO, "x"), "job-1", settings)
    assert letter.payload == value[:1000] and letter.payload_truncated
    assert (letter.payload_size, letter.payload_sha256) == (len(value), hashlib.sha256(value).hexdigest())
    assert len(DeadLetterEncoder().encode(letter)) < 2000


def test_a_tombstone_letter_has_no_payload_and_no_hash():
    letter = dead_letter(_record(None, key=None), DecodeError(ErrorCode.TOMBSTONE, "null"), "j", DecodeSettings())
    assert (letter.payload, letter.payload_size, letter.payload_sha256, letter.key) == (b"", -1, None, None)


def test_version_1_dead_letters_still_decode_with_the_newest_schema():
    history = SchemaHistory.from_folder(schemas.DEAD_LETTER_HISTORY)
    v1 = Encoder(history.schemas[0], WireFormat.SINGLE_OBJECT).encode({
        "payload": b"x", "source_topic": "t", "source_partition": 0, "source_offset": 1, "source_timestamp": KAFKA_TS,
        "error_class": "not_avro", "error_message": "m", "job_id": "j"})
    fields = AvroDecoder(history.latest, history).decode(v1)
    assert (fields["payload"], fields["key"], fields["headers"], fields["payload_size"]) == (b"x", None, [], -1)


def test_config_refuses_a_dead_letter_cap_that_would_not_fit_one_request():
    from riskstream.core.errors import ConfigError
    with pytest.raises(ConfigError, match="dead-letter max bytes"):
        DecodeSettings(dead_letter_max_bytes=2_000_000)
