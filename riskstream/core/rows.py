"""Typed rows passed between the jobs' steps (not dicts, strings or pickles)."""
from __future__ import annotations

from dataclasses import dataclass

DIMENSIONS = ("surface", "region", "recommender_model_version", "item_category")
# Characters of the ids producers write (hashed viewer ids, creator and item ids) as a regex class: a scan for
# an id splits stored text into runs of them and compares whole runs, so "c-1" never matches inside "c-12".
ID_CHARACTERS = "A-Za-z0-9_.:@/+=-"


@dataclass(frozen=True, slots=True)
class Impression:
    """A decoded, validated impression with where it was read from."""

    event_time: int  # epoch milliseconds
    event_id: str
    item_id: str
    creator_id: str
    surface: str
    region: str
    recommender_model_version: str
    item_category: str
    caption: str | None
    source_partition: int
    source_offset: int
    viewer_cohort: str = "unknown|unknown"  # "age band|locale" (schemas/impression v2), "unknown" where not sent
    creator_cohort: str = "unknown"

    @property
    def dimensions(self) -> tuple[str, str, str, str]:
        return (self.surface, self.region, self.recommender_model_version, self.item_category)


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    """A record as read from Kafka, before decoding."""

    value: bytes | None
    key: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    topic: str
    partition: int
    offset: int
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A rejected record as `schemas/dead_letter` v2 holds it, capped to fit one Kafka request."""

    payload: bytes
    source_topic: str
    source_partition: int
    source_offset: int
    source_timestamp: int
    error_class: str
    error_message: str
    job_id: str
    key: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    payload_size: int
    payload_truncated: bool
    payload_sha256: str | None
    headers_truncated: bool
    schema_ref: str | None


@dataclass(frozen=True, slots=True)
class ModerationLabel:
    """A human reviewer's judgement of one item (`schemas/moderation_label`), with where it was read from."""

    label_id: str
    item_id: str
    labeled_at: int  # epoch milliseconds
    reviewer_queue: str
    reviewed_categories: tuple[str, ...]  # never empty: a record's empty list means every category
    violating_categories: tuple[str, ...]
    source_partition: int
    source_offset: int
