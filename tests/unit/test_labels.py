"""udfs/labels.py: moderation labels decoded and checked, and joined to an item's verdict."""
from __future__ import annotations

import pytest

from riskstream.core import schemas
from riskstream.core.errors import DecodeError, ErrorCode
from riskstream.core.rows import KafkaRecord
from udfs import verdicts
from udfs.labels import JudgedItem, LabelDecoder, OUTCOME_COLUMNS, VerdictReader, outcome_values
from udfs.verdicts import Verdict
from udfs.wire import Encoder, SchemaHistory, WireFormat, load_schema

CATEGORIES = ("toxicity", "hate", "spam")
ENCODER = Encoder(SchemaHistory.from_folder(schemas.MODERATION_LABEL_HISTORY).latest, WireFormat.SINGLE_OBJECT)


def _record(**changes) -> KafkaRecord:
    label = {"label_id": "l-1", "item_id": "item-1", "labeled_at": 1_767_225_600_000, "reviewer_queue": "random_sample",
             "reviewed_categories": [], "violating_categories": ["spam"], **changes}
    return KafkaRecord(ENCODER.encode(label), b"item-1", (), "moderation-labels", 2, 40, 1_767_225_600_000)


def test_a_label_with_no_reviewed_categories_covers_every_category_of_the_model():
    label = LabelDecoder(CATEGORIES).decode(_record())
    assert (label.label_id, label.item_id, label.labeled_at, label.reviewed_categories, label.violating_categories,
            label.source_partition, label.source_offset) == \
           ("l-1", "item-1", 1_767_225_600_000, CATEGORIES, ("spam",), 2, 40)


@pytest.mark.parametrize("changes, message", [
    ({"reviewed_categories": ["weather"]}, "not categories the model scores"),
    ({"reviewed_categories": ["hate"], "violating_categories": ["spam"]}, "were not reviewed"),
    ({"item_id": ""}, "item_id must be 1 to 256"),
    ({"label_id": "x" * 300}, "label_id must be 1 to 256"),
])
def test_a_label_the_model_cannot_be_measured_against_is_invalid(changes, message):
    with pytest.raises(DecodeError) as raised:
        LabelDecoder(CATEGORIES).decode(_record(**changes))
    assert raised.value.code == ErrorCode.INVALID_LABEL and message in str(raised.value)


def test_a_tombstone_is_not_a_label():
    record = KafkaRecord(None, b"item-1", (), "moderation-labels", 0, 1, 0)
    with pytest.raises(DecodeError) as raised:
        LabelDecoder(CATEGORIES).decode(record)
    assert raised.value.code == ErrorCode.TOMBSTONE


def test_the_job_s_verdict_bytes_give_the_item_s_scores_flags_and_cohort():
    verdict = Verdict("item-1", "demote", "", "spam", 0.8, ["spam"], "news", "p3", "safety_text", "2", 1_000, 0, 5,
                      "job", {"toxicity": 0.1, "hate": 0.2, "spam": 0.8}, "veteran")
    payload = Encoder(SchemaHistory.from_folder(schemas.VERDICT_HISTORY).latest,
                      WireFormat.SINGLE_OBJECT).encode(verdicts.to_record(verdict))
    item = VerdictReader().read(payload)
    assert item == JudgedItem("veteran", {"toxicity": 0.1, "hate": 0.2, "spam": 0.8}, ("spam",), "2", "p3", 1_000)
    label = LabelDecoder(CATEGORIES).decode(_record())
    rows = [dict(zip(OUTCOME_COLUMNS, row)) for row in outcome_values(label, item, "job")]
    assert [(r["category"], r["human_violating"], r["model_score"], r["model_flagged"]) for r in rows] == [
        ("toxicity", False, 0.1, False), ("hate", False, 0.2, False), ("spam", True, 0.8, True)]
    assert {(r["creator_cohort"], r["model_version"], r["policy_version"], r["item_event_time"]) for r in rows} == \
           {("veteran", "2", "p3", 1_000)}


def test_a_verdict_written_before_scores_and_cohorts_were_kept_reads_as_unknown():
    v1 = Encoder(load_schema(schemas.versions(schemas.VERDICT_HISTORY)[0].path), WireFormat.SINGLE_OBJECT)
    record = {k: v for k, v in verdicts.to_record(Verdict("item-1", "allow", "", "spam", 0.1, [], "news", "p1",
                                                          "safety_text", "1", 0, 0, 0, "job")).items()
              if k not in ("scores", "creator_cohort")}
    item = VerdictReader().read(v1.encode(record))
    assert (item.creator_cohort, item.scores) == ("unknown", {})
