"""Human moderation labels joined to the model's judgement of the same item. Pure logic, no pyflink.

A label (`schemas/moderation_label`) says, per reviewed safety category, whether a person found the item
violating. The job keeps each item's newest verdict (`schemas/verdict`: its scores, the categories the
policy in force flagged, the creator cohort) and, once event time has passed a label's time by a wait, joins
the label to it: one outcome row per reviewed category, with the human's answer beside the model's score and
flag. An item the job has not scored (or no longer remembers) keeps its outcome rows with no score and no flag,
so coverage is measured too. `udfs.bias` computes the statistics from these rows.

>>> label = ModerationLabel("l1", "item-1", 5_000, "random_sample", ("spam", "hate"), ("spam",), 0, 7)
>>> item = JudgedItem("new", {"spam": 0.7, "hate": 0.1}, ("spam",), "1", "p1", 4_000)
>>> [(row[3], row[4], row[5], row[6]) for row in outcome_values(label, item, "job")]
[('spam', True, 0.7, True), ('hate', False, 0.1, False)]
>>> [(row[3], row[5], row[6]) for row in outcome_values(label, None, "job")][0]
('spam', None, None)
"""
from __future__ import annotations

from dataclasses import dataclass

from riskstream.core.errors import DecodeError, ErrorCode
from riskstream.core.job_config import DecodeSettings
from riskstream.core.rows import KafkaRecord, ModerationLabel
from riskstream.core.schemas import MODERATION_LABEL_HISTORY, VERDICT_HISTORY
from udfs.wire import AvroDecoder, SchemaById, SchemaHistory, require_value

MAX_ID_LENGTH = 256
UNKNOWN_COHORT = "unknown"
OUTCOME_COLUMNS = ("labeled_at", "label_id", "item_id", "category", "human_violating", "model_score",
                   "model_flagged", "creator_cohort", "reviewer_queue", "model_version", "policy_version",
                   "item_event_time", "label_partition", "label_offset", "job_id")


class LabelDecoder:
    """Either wire format into the newest label schema, then checked against the model's categories."""

    def __init__(self, categories: tuple[str, ...], settings: DecodeSettings = DecodeSettings(),
                 schema_by_id: SchemaById | None = None):
        history = SchemaHistory.from_folder(MODERATION_LABEL_HISTORY)
        self.avro = AvroDecoder(history.latest, history, schema_by_id)
        self.categories = categories
        self.settings = settings  # what a dead letter keeps (`udfs.impressions.decode_or_reject`)

    def decode(self, record: KafkaRecord) -> ModerationLabel:
        """The label, or DecodeError with its code."""
        avro = self.avro.decode(require_value(record.value))
        for name in ("label_id", "item_id"):
            if not 0 < len(avro[name]) <= MAX_ID_LENGTH:
                raise DecodeError(ErrorCode.INVALID_LABEL, f"{name} must be 1 to {MAX_ID_LENGTH} characters, "
                                                           f"got {len(avro[name])}")
        reviewed = tuple(avro["reviewed_categories"]) or self.categories
        violating = tuple(avro["violating_categories"])
        unknown = sorted(set(reviewed) - set(self.categories))
        if unknown:
            raise DecodeError(ErrorCode.INVALID_LABEL, f"reviewed_categories {unknown} are not categories the "
                                                       f"model scores ({', '.join(self.categories)})")
        outside = sorted(set(violating) - set(reviewed))
        if outside:
            raise DecodeError(ErrorCode.INVALID_LABEL, f"violating_categories {outside} were not reviewed")
        return ModerationLabel(avro["label_id"], avro["item_id"], int(avro["labeled_at"].timestamp() * 1000),
                               avro["reviewer_queue"], tuple(dict.fromkeys(reviewed)), violating,
                               record.partition, record.offset)


@dataclass(frozen=True, slots=True)
class JudgedItem:
    """What the job decided about an item: its newest verdict's scores, flags, cohort and versions."""

    creator_cohort: str
    scores: dict[str, float]
    flagged: tuple[str, ...]  # the categories the policy in force found unsafe
    model_version: str
    policy_version: str
    event_time: int  # of the impression that decided it


class VerdictReader:
    """Item verdicts (Avro single-object, as the job writes them) -> JudgedItem."""

    def __init__(self) -> None:
        history = SchemaHistory.from_folder(VERDICT_HISTORY)
        self.avro = AvroDecoder(history.latest, history)

    def read(self, payload: bytes) -> JudgedItem:
        verdict = self.avro.decode(payload)
        return JudgedItem(verdict["creator_cohort"], dict(verdict["scores"]), tuple(verdict["unsafe_categories"]),
                          verdict["model_version"], verdict["policy_version"], verdict["event_time"])


def outcome_values(label: ModerationLabel, item: JudgedItem | None, job_id: str) -> list[list]:
    """The label's rows of `label_outcomes` (OUTCOME_COLUMNS), one per reviewed category."""
    rows = []
    for category in label.reviewed_categories:
        score = None if item is None else item.scores.get(category)
        rows.append([label.labeled_at, label.label_id, label.item_id, category,
                     category in label.violating_categories, score,
                     None if score is None else category in item.flagged,
                     UNKNOWN_COHORT if item is None else item.creator_cohort, label.reviewer_queue,
                     "" if item is None else item.model_version, "" if item is None else item.policy_version,
                     None if item is None else item.event_time, label.source_partition, label.source_offset, job_id])
    return rows
