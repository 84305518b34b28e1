"""Avro records on Kafka in the Avro single-object encoding, with schemas loaded from `schemas/*.avsc`.

Each message starts with 0xC3 0x01 and the 8-byte CRC-64-AVRO fingerprint of its writer schema
(the Avro specification's way to name a schema without a registry), then the binary body.
A reader knows every writer schema version it may meet and resolves them to its own reader schema,
so producers can add optional fields without breaking older jobs.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import fastavro
from fastavro.schema import fingerprint, parse_schema, to_parsing_canonical_form

from riskstream.core.errors import DecodeError

MAGIC = b"\xc3\x01"
HEADER_SIZE = len(MAGIC) + 8


def load_schema(path: Path) -> dict:
    return parse_schema(json.loads(Path(path).read_text()))


def schema_fingerprint(schema: dict) -> bytes:
    return bytes.fromhex(fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"))


class AvroCodec:
    """Encode with one writer schema; decode any known writer schema into the reader schema."""

    def __init__(self, reader_schema: dict, known_writer_schemas: list[dict] | None = None):
        self.reader_schema = reader_schema
        self._header = MAGIC + schema_fingerprint(reader_schema)
        writers = [reader_schema] + list(known_writer_schemas or [])
        self._writers = {schema_fingerprint(s): s for s in writers}

    @classmethod
    def from_files(cls, reader: Path, *writers: Path) -> "AvroCodec":
        return cls(load_schema(reader), [load_schema(w) for w in writers])

    def encode(self, record: dict) -> bytes:
        buffer = io.BytesIO()
        buffer.write(self._header)
        fastavro.schemaless_writer(buffer, self.reader_schema, record)
        return buffer.getvalue()

    def decode(self, payload: bytes | None) -> dict:
        """The record in the reader schema, or DecodeError saying why not."""
        if not payload:
            raise DecodeError("empty payload")
        if len(payload) < HEADER_SIZE or payload[:2] != MAGIC:
            raise DecodeError("not Avro single-object encoded (missing 0xC3 0x01 header)")
        writer = self._writers.get(payload[2:HEADER_SIZE])
        if writer is None:
            raise DecodeError(f"unknown writer schema fingerprint {payload[2:HEADER_SIZE].hex()}")
        body = io.BytesIO(payload[HEADER_SIZE:])
        try:
            record = fastavro.schemaless_reader(body, writer, self.reader_schema)
        except (EOFError, ValueError, TypeError, IndexError, UnicodeDecodeError, OverflowError) as exc:
            raise DecodeError(f"body does not match schema: {type(exc).__name__}: {exc}") from exc
        if body.tell() != len(payload) - HEADER_SIZE:
            raise DecodeError(f"{len(payload) - HEADER_SIZE - body.tell()} trailing bytes after the record")
        return record
