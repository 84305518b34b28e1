"""Kafka record -> validated impression, or a DecodeError whose code says why not. Pure logic, no pyflink."""
from __future__ import annotations

from riskstream.core.schemas import IMPRESSION_HISTORY
from riskstream.core.job_config import DecodeSettings
from riskstream.core.errors import DecodeError, ErrorCode, SchemaRegistryUnavailable
from riskstream.core.rows import DeadLetter, Impression, KafkaRecord
from udfs.dead_letters import dead_letter
from udfs.dimensions import DimensionRules
from udfs.forget import Forgotten
from udfs.wire import AvroDecoder, SchemaById, SchemaHistory, require_value

EARLIEST_EVENT_MS = 946_684_800_000  # 2000-01-01: anything before is a broken clock, not history
UNKNOWN = "unknown"  # a cohort field the producer did not send (records of schema v1, or null)
COHORT_FIELDS = ("viewer_age_band", "viewer_locale", "creator_cohort")


class Erased:
    """The outcome of decoding a record of a forgotten viewer or creator: dropped, never counted or kept."""


ERASED = Erased()


class ImpressionDecoder:
    """Decode either wire format into the job's reader schema (the newest in the history), then validate."""

    def __init__(self, settings: DecodeSettings = DecodeSettings(), schema_by_id: SchemaById | None = None,
                 history: SchemaHistory | None = None, forgotten: Forgotten | None = None):
        self.history = history or SchemaHistory.from_folder(IMPRESSION_HISTORY)
        self.avro = AvroDecoder(self.history.latest, self.history, schema_by_id)
        self.settings = settings
        self.dimensions = DimensionRules(settings)
        self.forgotten = forgotten  # the forget requests read so far (a live view, filled by the job's feed)

    def decode(self, record: KafkaRecord) -> Impression | Erased:
        """The impression (ERASED for a forgotten viewer's or creator's), or DecodeError with its code."""
        avro = self.avro.decode(require_value(record.value))
        if self.forgotten and self.forgotten.holds(avro["user_id_hash"], avro["creator_id"]):
            return ERASED
        event_ms = int(avro["event_time"].timestamp() * 1000)
        low = record.timestamp_ms - self.settings.max_past_ms
        high = record.timestamp_ms + self.settings.max_future_ms
        if event_ms < EARLIEST_EVENT_MS or event_ms < low or event_ms > high:
            raise DecodeError(ErrorCode.ABSURD_EVENT_TIME, f"event_time {event_ms} is outside [{low}, {high}] "
                                                           f"around the Kafka timestamp {record.timestamp_ms}")
        age, locale, creator = avro.get("viewer_age_band"), avro.get("viewer_locale"), avro.get("creator_cohort")
        impression = Impression(
            event_time=event_ms, event_id=avro["event_id"], item_id=avro["item_id"], creator_id=avro["creator_id"],
            surface=avro["surface"], region=avro["region"],
            recommender_model_version=avro["recommender_model_version"], item_category=avro["item_category"],
            caption=avro["caption"], source_partition=record.partition, source_offset=record.offset,
            viewer_cohort=f"{age or UNKNOWN}|{locale or UNKNOWN}", creator_cohort=creator or UNKNOWN)
        self.dimensions.check(impression.dimensions)
        # Cohort values become map keys and dashboard series: the dimensions' characters and length.
        self.dimensions.check((age or UNKNOWN, locale or UNKNOWN, creator or UNKNOWN), COHORT_FIELDS)
        return impression


def decode_or_reject(decoder: ImpressionDecoder, record: KafkaRecord, job_id: str) -> Impression | DeadLetter | Erased:
    """The impression, or the record's dead letter: no input fails the job.

    A registry that cannot be reached is not the producer's fault: SchemaRegistryUnavailable propagates
    (the job fails fast with the address, and restarts from its checkpoint)."""
    try:
        return decoder.decode(record)
    except DecodeError as exc:
        return dead_letter(record, exc, job_id, decoder.settings)
    except SchemaRegistryUnavailable:
        raise
    except Exception as exc:  # noqa: BLE001 - no input may crash the job; it becomes a dead letter
        error = DecodeError(ErrorCode.UNEXPECTED_ERROR, f"{type(exc).__name__}: {exc}")
        return dead_letter(record, error, job_id, decoder.settings)
