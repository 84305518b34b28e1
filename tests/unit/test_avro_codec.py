import json

import pytest

from riskstream.core import paths
from riskstream.core.errors import DecodeError
from riskstream.cli.generator import GeneratorSettings, generate
from udfs.avro_codec import AvroCodec, load_schema

SCHEMA = paths.SCHEMAS_DIR / "impression.avsc"


@pytest.fixture(scope="module")
def codec():
    return AvroCodec.from_files(SCHEMA)


@pytest.fixture(scope="module")
def record():
    return next(iter(generate(GeneratorSettings(count=1)))).record


def test_round_trip_keeps_every_field(codec, record):
    decoded = codec.decode(codec.encode(record))
    assert int(decoded["event_time"].timestamp() * 1000) == record["event_time"]
    assert {k: v for k, v in decoded.items() if k != "event_time"} == \
           {k: v for k, v in record.items() if k != "event_time"}


def test_payload_carries_the_single_object_header(codec, record):
    payload = codec.encode(record)
    assert payload[:2] == b"\xc3\x01"


@pytest.mark.parametrize("payload, reason", [
    (b"", "empty payload"),
    (b"{\"json\": true}", "missing 0xC3 0x01 header"),
    (b"\xc3\x01" + b"\x00" * 8 + b"abc", "unknown writer schema"),
])
def test_bad_payloads_say_why(codec, payload, reason):
    with pytest.raises(DecodeError, match=reason):
        codec.decode(payload)


def test_truncated_and_padded_payloads_are_rejected(codec, record):
    payload = codec.encode(record)
    with pytest.raises(DecodeError, match="body does not match schema"):
        codec.decode(payload[:-5])
    with pytest.raises(DecodeError, match="trailing bytes"):
        codec.decode(payload + b"\x00")


def test_a_newer_writer_with_an_optional_field_is_read_by_the_old_reader(record, tmp_path):
    newer = json.loads(SCHEMA.read_text())
    newer["fields"].append({"name": "language", "type": ["null", "string"], "default": None})
    newer_path = tmp_path / "impression_v2.avsc"
    newer_path.write_text(json.dumps(newer))
    writer = AvroCodec(load_schema(newer_path))
    reader = AvroCodec(load_schema(SCHEMA), [load_schema(newer_path)])
    decoded = reader.decode(writer.encode({**record, "language": "pt"}))
    assert decoded["item_id"] == record["item_id"]
    assert "language" not in decoded
