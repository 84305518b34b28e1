"""Avro on Kafka as real producers write it: two wire formats, writer schemas resolved to the reader's.

- **Confluent wire format**: 0x00, the writer schema's registry id (4 bytes, big-endian), the body. What
  the Confluent and Apicurio serializers, Kafka Connect and ksqlDB write; the schema comes from a registry.
- **Avro single-object encoding**: 0xC3 0x01, the writer schema's CRC-64-AVRO fingerprint (8 bytes,
  little-endian, as the Avro specification says), the body; the schema comes from the checked-in
  schema history (`schemas/<name>/v<N>.avsc`, every version ever published).

Both are always readable side by side; the first byte tells them apart. The body is read with the
writer's schema and resolved to the reader's (Avro schema resolution, by fastavro), so a writer that
added or removed an optional field is read as the reader expects.

>>> frame(bytes([0, 0, 0, 0, 7]) + b"body").schema_ref
7
>>> frame(b"\\xc3\\x01" + bytes(8) + b"body").format.value
'single-object'
"""
from __future__ import annotations

import io
import json
import struct
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import fastavro
from fastavro.read import SchemaResolutionError
from fastavro.schema import fingerprint, parse_schema, to_parsing_canonical_form

from riskstream.core import schemas
from riskstream.core.errors import DecodeError, ErrorCode

CONFLUENT_MAGIC = 0
CONFLUENT_HEADER_SIZE = 5
SINGLE_OBJECT_MAGIC = b"\xc3\x01"
SINGLE_OBJECT_HEADER_SIZE = 10
# What a malformed body raises inside fastavro's reader.
_BODY_ERRORS = (EOFError, ValueError, TypeError, IndexError, UnicodeDecodeError, OverflowError, KeyError,
                AttributeError, struct.error)


class WireFormat(StrEnum):
    CONFLUENT = "confluent"
    SINGLE_OBJECT = "single-object"


@dataclass(frozen=True)
class Frame:
    """A payload's header: the wire format, the writer schema's id or fingerprint, where the body starts."""

    format: WireFormat
    schema_ref: int | bytes
    body_offset: int

    @property
    def schema_ref_text(self) -> str:
        return str(self.schema_ref) if isinstance(self.schema_ref, int) else self.schema_ref.hex()


def require_value(value: bytes | None) -> bytes:
    """A record's value, or DecodeError for a tombstone (null) or an empty one."""
    if value is None:
        raise DecodeError(ErrorCode.TOMBSTONE, "null value (a tombstone)")
    if not value:
        raise DecodeError(ErrorCode.EMPTY_PAYLOAD, "zero-length value")
    return value


def frame(payload: bytes) -> Frame:
    """Read the header of a non-empty payload; DecodeError(NOT_AVRO) when it has neither header."""
    if payload[0] == CONFLUENT_MAGIC and len(payload) >= CONFLUENT_HEADER_SIZE:
        return Frame(WireFormat.CONFLUENT, int.from_bytes(payload[1:5], "big"), CONFLUENT_HEADER_SIZE)
    if payload[:2] == SINGLE_OBJECT_MAGIC and len(payload) >= SINGLE_OBJECT_HEADER_SIZE:
        return Frame(WireFormat.SINGLE_OBJECT, bytes(payload[2:10]), SINGLE_OBJECT_HEADER_SIZE)
    raise DecodeError(ErrorCode.NOT_AVRO, f"no Avro wire-format header: starts with {bytes(payload[:4]).hex()} "
                                          f"(expected 00 + schema id, or c3 01 + fingerprint)")


def schema_fingerprint(schema: dict) -> bytes:
    """The CRC-64-AVRO fingerprint of a parsed schema's canonical form, as it appears on the wire."""
    return bytes.fromhex(fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"))


def load_schema(path: Path) -> dict:
    return parse_schema(json.loads(Path(path).read_text()))


class Encoder:
    """Writes records with one writer schema in one wire format (Confluent needs the schema's registry id)."""

    def __init__(self, schema: dict, wire_format: WireFormat, schema_id: int | None = None):
        if wire_format is WireFormat.CONFLUENT:
            if schema_id is None:
                raise ValueError("the Confluent wire format needs the schema's registry id")
            self._header = bytes([CONFLUENT_MAGIC]) + schema_id.to_bytes(4, "big")
        else:
            self._header = SINGLE_OBJECT_MAGIC + schema_fingerprint(schema)
        self.schema = schema
        self.wire_format = wire_format

    def encode(self, record: dict) -> bytes:
        buffer = io.BytesIO()
        buffer.write(self._header)
        fastavro.schemaless_writer(buffer, self.schema, record)
        return buffer.getvalue()


def encode(record: dict, schema: dict, wire_format: WireFormat, schema_id: int | None = None) -> bytes:
    """One record in the given wire format."""
    return Encoder(schema, wire_format, schema_id).encode(record)


class SchemaHistory:
    """Every published version of one record schema (parsed), oldest first; the newest is the reader's."""

    def __init__(self, schemas: list[dict]):
        if not schemas:
            raise ValueError("a schema history needs at least one version")
        self.schemas = list(schemas)
        self._by_fingerprint = {schema_fingerprint(s): s for s in self.schemas}

    @classmethod
    def from_folder(cls, folder: Path) -> "SchemaHistory":
        return cls([parse_schema(json.loads(f.text)) for f in schemas.versions(folder)])

    @property
    def latest(self) -> dict:
        return self.schemas[-1]

    def by_fingerprint(self, value: bytes) -> dict | None:
        return self._by_fingerprint.get(bytes(value))


# Registry lookup: schema id -> parsed writer schema, None when the registry has no such id; raises
# SchemaRegistryUnavailable when it cannot be asked (the job then fails fast and restarts: not the producer's fault).
SchemaById = Callable[[int], "dict | None"]


class AvroDecoder:
    """Decode either wire format into the reader schema; every failure is a DecodeError with its code."""

    def __init__(self, reader: dict, history: SchemaHistory, schema_by_id: SchemaById | None = None,
                 max_unknown_ids: int = 10_000):
        self.reader = reader
        self.history = history
        self._schema_by_id = schema_by_id
        self._writers: dict[int, dict] = {}
        self._unknown_ids: set[int] = set()  # garbage with random ids must not ask the registry each time
        self._max_unknown_ids = max_unknown_ids

    def decode(self, payload: bytes) -> dict:
        """The record in the reader schema. `payload` is non-empty (tombstones and empties are rejected before)."""
        header = frame(payload)
        writer = self._writer(header)
        body = io.BytesIO(payload)
        body.seek(header.body_offset)
        try:
            record = fastavro.schemaless_reader(body, writer, self.reader)
        except SchemaResolutionError as exc:
            raise DecodeError(ErrorCode.INCOMPATIBLE_SCHEMA,
                              f"writer schema {header.schema_ref_text} cannot be read as the reader schema: {exc}") from exc
        except _BODY_ERRORS as exc:
            raise DecodeError(ErrorCode.SCHEMA_MISMATCH, f"body does not match writer schema "
                                                         f"{header.schema_ref_text}: {type(exc).__name__}: {exc}") from exc
        left = len(payload) - body.tell()
        if left:
            raise DecodeError(ErrorCode.TRAILING_BYTES, f"{left} trailing bytes after the record "
                                                        f"(writer schema {header.schema_ref_text})")
        return record

    def _writer(self, header: Frame) -> dict:
        if header.format is WireFormat.SINGLE_OBJECT:
            writer = self.history.by_fingerprint(header.schema_ref)
            if writer is None:
                raise DecodeError(ErrorCode.UNKNOWN_SCHEMA, f"writer schema fingerprint {header.schema_ref_text} "
                                                            f"is not in the schema history")
            return writer
        schema_id = header.schema_ref
        writer = self._writers.get(schema_id)
        if writer is not None:
            return writer
        if self._schema_by_id is None:
            raise DecodeError(ErrorCode.UNKNOWN_SCHEMA_ID, f"schema id {schema_id}: Confluent wire format, "
                                                           f"but no schema registry is configured")
        if schema_id in self._unknown_ids:
            raise DecodeError(ErrorCode.UNKNOWN_SCHEMA_ID, f"schema id {schema_id} is not in the schema registry")
        writer = self._schema_by_id(schema_id)
        if writer is None:
            if len(self._unknown_ids) < self._max_unknown_ids:
                self._unknown_ids.add(schema_id)
            raise DecodeError(ErrorCode.UNKNOWN_SCHEMA_ID, f"schema id {schema_id} is not in the schema registry")
        self._writers[schema_id] = writer
        return writer
