"""Wire formats, the schema history and writer -> reader resolution, without services."""
import json

import fastavro
import pytest
from fastavro.schema import parse_schema

from riskstream.cli.generator import GeneratorSettings, generate
from riskstream.core import schemas
from riskstream.core.errors import DecodeError, ErrorCode
from udfs.wire import AvroDecoder, Encoder, SchemaHistory, WireFormat

HISTORY = SchemaHistory.from_folder(schemas.IMPRESSION_HISTORY)
READER = HISTORY.latest


def _raw(version_text: str) -> dict:
    return json.loads(version_text)


def _with_field(extra: dict) -> dict:
    raw = _raw(schemas.versions(schemas.IMPRESSION_HISTORY)[-1].text)
    raw["fields"].append(extra)
    return parse_schema(raw)


def _without_field(name: str) -> dict:
    raw = _raw(schemas.versions(schemas.IMPRESSION_HISTORY)[-1].text)
    raw["fields"] = [f for f in raw["fields"] if f["name"] != name]
    return parse_schema(raw)


@pytest.fixture(scope="module")
def record():
    return next(iter(generate(GeneratorSettings(count=1)))).record


def _same(decoded: dict, record: dict) -> bool:
    return int(decoded["event_time"].timestamp() * 1000) == record["event_time"] and \
        {k: v for k, v in decoded.items() if k != "event_time"} == {k: v for k, v in record.items() if k != "event_time"}


def test_single_object_round_trip_keeps_every_field(record):
    payload = Encoder(READER, WireFormat.SINGLE_OBJECT).encode(record)
    assert payload[:2] == b"\xc3\x01"
    assert _same(AvroDecoder(READER, HISTORY).decode(payload), record)


def test_confluent_wire_format_is_magic_zero_and_a_big_endian_schema_id(record):
    payload = Encoder(READER, WireFormat.CONFLUENT, schema_id=258).encode(record)
    assert payload[:5] == b"\x00\x00\x00\x01\x02"
    # Independent of our encoder: the body after the 5-byte header is plain Avro binary.
    import io
    body = fastavro.schemaless_reader(io.BytesIO(payload[5:]), READER, READER)
    assert body["item_id"] == record["item_id"]
    asked = []
    decoded = AvroDecoder(READER, HISTORY, lambda i: asked.append(i) or READER).decode(payload)
    assert _same(decoded, record) and asked == [258]


def test_the_fingerprint_is_the_avro_specs_little_endian_crc64():
    # The Avro specification's test vector: the CRC-64-AVRO of `"null"` is 0x63dd24e7cc258f8a.
    from udfs.wire import schema_fingerprint
    assert schema_fingerprint(parse_schema("null")) == (0x63dd24e7cc258f8a).to_bytes(8, "little")


def test_a_writer_with_a_new_optional_field_is_read_by_the_reader(record):
    newer = _with_field({"name": "language", "type": ["null", "string"], "default": None})
    payload = Encoder(newer, WireFormat.CONFLUENT, 7).encode({**record, "language": "pt"})
    decoded = AvroDecoder(READER, HISTORY, {7: newer}.get).decode(payload)
    assert _same(decoded, record)


def test_a_writer_without_an_optional_field_reads_as_its_default(record):
    older = _without_field("caption")
    payload = Encoder(older, WireFormat.CONFLUENT, 8).encode({k: v for k, v in record.items() if k != "caption"})
    decoded = AvroDecoder(READER, HISTORY, {8: older}.get).decode(payload)
    assert decoded["caption"] is None and decoded["item_id"] == record["item_id"]


def test_single_object_records_of_every_history_version_decode(record, tmp_path):
    # A history with a second version: records of both versions decode with the newest as reader.
    (tmp_path / "v1.avsc").write_text(schemas.versions(schemas.IMPRESSION_HISTORY)[-1].text)
    v2 = _raw((tmp_path / "v1.avsc").read_text())
    v2["fields"].append({"name": "language", "type": ["null", "string"], "default": None})
    (tmp_path / "v2.avsc").write_text(json.dumps(v2))
    history = SchemaHistory.from_folder(tmp_path)
    decoder = AvroDecoder(history.latest, history)
    old = decoder.decode(Encoder(history.schemas[0], WireFormat.SINGLE_OBJECT).encode(record))
    new = decoder.decode(Encoder(history.schemas[1], WireFormat.SINGLE_OBJECT).encode({**record, "language": "pt"}))
    assert old["language"] is None and new["language"] == "pt"


def test_every_checked_in_version_is_readable_by_the_reader(record):
    """The history's compatibility promise: data written with any version decodes with the newest."""
    for version in schemas.versions(schemas.IMPRESSION_HISTORY):
        writer = parse_schema(json.loads(version.text))
        fields = {f["name"] for f in json.loads(version.text)["fields"]}
        payload = Encoder(writer, WireFormat.SINGLE_OBJECT).encode({k: v for k, v in record.items() if k in fields})
        decoded = AvroDecoder(READER, HISTORY).decode(payload)
        assert decoded["event_id"] == record["event_id"], version.path


@pytest.mark.parametrize("payload, code", [
    (b"{\"json\": true}", ErrorCode.NOT_AVRO),
    (b"\x00\x00", ErrorCode.NOT_AVRO),
    (b"\xc3\x01" + b"\x00" * 8 + b"abc", ErrorCode.UNKNOWN_SCHEMA),
    (b"\x00\x00\x00\x00\x09abc", ErrorCode.UNKNOWN_SCHEMA_ID),
])
def test_bad_payloads_carry_their_code(payload, code):
    with pytest.raises(DecodeError) as caught:
        AvroDecoder(READER, HISTORY, lambda i: None).decode(payload)
    assert caught.value.code is code


def test_unknown_ids_are_asked_once(record):
    asked = []
    decoder = AvroDecoder(READER, HISTORY, lambda i: asked.append(i))
    for _ in range(3):
        with pytest.raises(DecodeError):
            decoder.decode(b"\x00\x00\x00\x00\x09abc")
    assert asked == [9]


def test_confluent_records_without_a_registry_are_unknown_ids_not_crashes(record):
    with pytest.raises(DecodeError) as caught:
        AvroDecoder(READER, HISTORY).decode(Encoder(READER, WireFormat.CONFLUENT, 1).encode(record))
    assert caught.value.code is ErrorCode.UNKNOWN_SCHEMA_ID


def test_truncated_padded_and_incompatible_payloads_have_their_own_codes(record):
    payload = Encoder(READER, WireFormat.SINGLE_OBJECT).encode(record)
    decoder = AvroDecoder(READER, HISTORY)
    for bad, code in ((payload[:-5], ErrorCode.SCHEMA_MISMATCH), (payload + b"\x00", ErrorCode.TRAILING_BYTES)):
        with pytest.raises(DecodeError) as caught:
            decoder.decode(bad)
        assert caught.value.code is code
    other = parse_schema({"type": "record", "name": "Other", "namespace": "elsewhere",
                          "fields": [{"name": "x", "type": "long"}]})
    with pytest.raises(DecodeError) as caught:
        AvroDecoder(READER, HISTORY, {3: other}.get).decode(Encoder(other, WireFormat.CONFLUENT, 3).encode({"x": 1}))
    assert caught.value.code is ErrorCode.INCOMPATIBLE_SCHEMA
