"""Kafka record -> validated impression, or a dead letter saying why not. Pure logic, no pyflink."""
from __future__ import annotations

from dataclasses import dataclass

from riskstream.core import paths
from riskstream.core.errors import DecodeError
from udfs.avro_codec import AvroCodec

IMPRESSION_SCHEMA = paths.SCHEMAS_DIR / "impression.avsc"
DEAD_LETTER_SCHEMA = paths.SCHEMAS_DIR / "dead_letter.avsc"
EARLIEST_EVENT_MS = 946_684_800_000  # 2000-01-01: anything before is a broken clock, not history


@dataclass(frozen=True)
class Rejection:
    error_class: str
    message: str


@dataclass(frozen=True)
class TimeBounds:
    """How far an impression's event time may sit from its Kafka timestamp before it is absurd."""

    max_past_ms: int = 7 * 24 * 3600 * 1000
    max_future_ms: int = 3600 * 1000


def classify(error: DecodeError) -> str:
    text = str(error)
    for prefix, code in (("empty payload", "empty_payload"), ("not Avro", "not_avro"),
                         ("unknown writer schema", "unknown_schema"), ("body does not match", "schema_mismatch"),
                         ("trailing bytes", "trailing_bytes")):
        if text.startswith(prefix):
            return code
    return "decode_error"


class ImpressionDecoder:
    """Decode and validate impressions; reject what a window must not count."""

    def __init__(self, bounds: TimeBounds = TimeBounds()):
        self.codec = AvroCodec.from_files(IMPRESSION_SCHEMA)
        self.bounds = bounds

    def decode(self, payload: bytes | None, kafka_timestamp_ms: int) -> dict | Rejection:
        try:
            record = self.codec.decode(payload)
        except DecodeError as exc:
            return Rejection(classify(exc), str(exc))
        event_ms = int(record["event_time"].timestamp() * 1000)
        if (event_ms < EARLIEST_EVENT_MS or event_ms < kafka_timestamp_ms - self.bounds.max_past_ms
                or event_ms > kafka_timestamp_ms + self.bounds.max_future_ms):
            return Rejection("absurd_event_time",
                             f"event_time {event_ms} is outside [{kafka_timestamp_ms - self.bounds.max_past_ms}, "
                             f"{kafka_timestamp_ms + self.bounds.max_future_ms}] around the Kafka timestamp "
                             f"{kafka_timestamp_ms}")
        record["event_time"] = event_ms
        return record


class DeadLetterEncoder:
    """Dead letters as Avro single-object records (schemas/dead_letter.avsc)."""

    def __init__(self, job_id: str):
        self.codec = AvroCodec.from_files(DEAD_LETTER_SCHEMA)
        self.job_id = job_id

    def encode(self, payload: bytes | None, topic: str, partition: int, offset: int, timestamp_ms: int,
               rejection: Rejection) -> bytes:
        return self.codec.encode({
            "payload": payload or b"", "source_topic": topic, "source_partition": partition,
            "source_offset": offset, "source_timestamp": timestamp_ms, "error_class": rejection.error_class,
            "error_message": rejection.message, "job_id": self.job_id,
        })
