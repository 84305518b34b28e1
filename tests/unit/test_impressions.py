import pytest

from riskstream.cli.generator import GeneratorSettings, generate
from udfs.avro_codec import AvroCodec
from udfs.impressions import DEAD_LETTER_SCHEMA, DeadLetterEncoder, ImpressionDecoder, Rejection

KAFKA_TS = 1_767_225_600_000


@pytest.fixture(scope="module")
def decoder():
    return ImpressionDecoder()


@pytest.fixture(scope="module")
def record():
    return next(iter(generate(GeneratorSettings(count=1, start_ms=KAFKA_TS)))).record


def test_a_good_impression_decodes_with_event_time_in_ms(decoder, record):
    decoded = decoder.decode(decoder.codec.encode(record), KAFKA_TS)
    assert decoded["event_time"] == record["event_time"] and decoded["caption"] == record["caption"]


@pytest.mark.parametrize("event_time", [0, KAFKA_TS - 8 * 86_400_000, KAFKA_TS + 2 * 3_600_000])
def test_absurd_event_times_are_rejected(decoder, record, event_time):
    result = decoder.decode(decoder.codec.encode({**record, "event_time": event_time}), KAFKA_TS)
    assert isinstance(result, Rejection) and result.error_class == "absurd_event_time"


@pytest.mark.parametrize("payload, error_class", [
    (None, "empty_payload"), (b"", "empty_payload"), (b"plain text", "not_avro"),
    (b"\xc3\x01" + bytes(8) + b"x", "unknown_schema"),
])
def test_undecodable_payloads_get_a_stable_error_class(decoder, payload, error_class):
    result = decoder.decode(payload, KAFKA_TS)
    assert isinstance(result, Rejection) and result.error_class == error_class and result.message


def test_dead_letters_keep_the_raw_bytes_and_where_they_came_from():
    encoded = DeadLetterEncoder("job-1").encode(b"\x00raw", "impressions", 2, 41, KAFKA_TS,
                                                Rejection("not_avro", "why"))
    letter = AvroCodec.from_files(DEAD_LETTER_SCHEMA).decode(encoded)
    assert (letter["payload"], letter["source_partition"], letter["source_offset"], letter["error_class"],
            letter["job_id"]) == (b"\x00raw", 2, 41, "not_avro", "job-1")
