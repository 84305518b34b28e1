"""Rejected records as dead letters that always fit the dead-letter topic. Pure logic, no pyflink.

A dead letter keeps the record's value, key and headers, capped so that the whole letter stays under
one Kafka request: a value over the cap keeps its first bytes, its original length and the SHA-256 of
all of it, so the original can be found and proven in the source topic while it is retained.
"""
from __future__ import annotations

import hashlib

from riskstream.core.schemas import DEAD_LETTER_HISTORY
from riskstream.core.job_config import DEAD_LETTER_HEADERS_MAX_BYTES, DEAD_LETTER_KEY_MAX_BYTES, DecodeSettings
from riskstream.core.errors import DecodeError
from riskstream.core.rows import DeadLetter, KafkaRecord
from riskstream.core.times import epoch_ms
from udfs.wire import AvroDecoder, Encoder, SchemaHistory, WireFormat, frame


def dead_letter(record: KafkaRecord, error: DecodeError, job_id: str, settings: DecodeSettings) -> DeadLetter:
    """The dead letter of `record`, rejected for `error`."""
    value = record.value
    cap = settings.dead_letter_max_bytes
    header_bytes = sum(len(key.encode()) + len(header_value or b"") for key, header_value in record.headers)
    headers_truncated = header_bytes > DEAD_LETTER_HEADERS_MAX_BYTES
    return DeadLetter(
        payload=(value or b"")[:cap], source_topic=record.topic, source_partition=record.partition,
        source_offset=record.offset, source_timestamp=record.timestamp_ms, error_class=error.code.value,
        error_message=str(error)[:2000], job_id=job_id,
        key=None if record.key is None else record.key[:DEAD_LETTER_KEY_MAX_BYTES],
        headers=() if headers_truncated else record.headers,
        payload_size=-1 if value is None else len(value), payload_truncated=value is not None and len(value) > cap,
        payload_sha256=None if value is None else hashlib.sha256(value).hexdigest(),
        headers_truncated=headers_truncated, schema_ref=_schema_ref(value))


def index_values(letter: DeadLetter) -> list:
    """The letter's row in ClickHouse's `dead_letters` index (the payload itself stays in the topic)."""
    return [letter.source_topic, letter.source_partition, letter.source_offset, letter.source_timestamp,
            letter.error_class, letter.error_message, max(letter.payload_size, 0), letter.payload_sha256 or "",
            letter.payload_truncated, letter.schema_ref or "", letter.job_id]



def _schema_ref(value: bytes | None) -> str | None:
    if not value:
        return None
    try:
        return frame(value).schema_ref_text
    except DecodeError:
        return None


class DeadLetterEncoder:
    """Dead letters as Avro single-object records of the newest `schemas/dead_letter` version."""

    def __init__(self) -> None:
        self.schema = SchemaHistory.from_folder(DEAD_LETTER_HISTORY).latest
        self._encoder = Encoder(self.schema, WireFormat.SINGLE_OBJECT)

    def encode(self, letter: DeadLetter) -> bytes:
        fields = {name: getattr(letter, name) for name in DeadLetter.__slots__}
        fields["headers"] = [{"key": k, "value": v} for k, v in letter.headers]
        return self._encoder.encode(fields)


class DeadLetterDecoder:
    """Dead letters back from their Avro records: the job's ClickHouse index of a letter is read from the
    letter itself, so the two cannot disagree and nothing untyped travels beside it."""

    def __init__(self) -> None:
        history = SchemaHistory.from_folder(DEAD_LETTER_HISTORY)
        self._decoder = AvroDecoder(history.latest, history)

    def decode(self, encoded: bytes) -> DeadLetter:
        fields = self._decoder.decode(encoded)
        fields["headers"] = tuple((header["key"], header["value"]) for header in fields["headers"])
        timestamp = fields["source_timestamp"]  # timestamp-millis: fastavro hands back a datetime
        fields["source_timestamp"] = timestamp if isinstance(timestamp, int) else epoch_ms(timestamp)
        return DeadLetter(**{name: fields[name] for name in DeadLetter.__slots__})
