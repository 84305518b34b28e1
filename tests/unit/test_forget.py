"""Forget requests as records, the suppression list the decoder applies, and the Avro-string search of raw topics."""
from __future__ import annotations

import io

import fastavro
import pytest

from riskstream.core import schemas
from riskstream.core.errors import ConfigError
from riskstream.core.rows import KafkaRecord
from riskstream.io.topic_records import avro_string
from udfs import forget
from udfs.forget import ForgetRequest, Forgotten
from udfs.impressions import ERASED, ImpressionDecoder
from udfs.wire import Encoder, SchemaHistory, WireFormat

REQUEST = ForgetRequest("r1", "creator", "creator-0042", 1_772_323_200_000, "dpo", "T-1", ("item-a", "item-b"))


def test_a_request_survives_its_topic_encoding():
    key, value = forget.encode(REQUEST)
    assert key == b"creator:creator-0042" and forget.decode(value) == REQUEST


@pytest.mark.parametrize("change, field", [({"kind": "user"}, "kind"), ({"subject_id": "a b"}, "subject id"),
                                           ({"subject_id": ""}, "subject id"), ({"reason": " "}, "reason")])
def test_a_bad_request_is_refused_naming_the_field(change, field):
    values = {**REQUEST.__dict__, **change}
    with pytest.raises(ConfigError, match=field):
        ForgetRequest(**values)


def test_the_suppression_list_holds_every_request_read_and_skips_what_is_not_one():
    forgotten = Forgotten()
    assert not forgotten
    forgotten.add(*forget.encode(REQUEST))
    forgotten.add(*forget.encode(ForgetRequest("r2", "viewer", "u-9", 1, "dpo", "T-2")))
    forgotten.add(b"creator:x", b"not a request")
    forgotten.add(b"viewer:u-9", None)  # a tombstone withdraws nothing
    assert forgotten.holds("u-9", "creator-1") and forgotten.holds("u-1", "creator-0042")
    assert not forgotten.holds("u-1", "creator-1") and forgotten.items == {"item-a", "item-b"}
    assert forgotten.skipped == 1


def _impression(user: str, creator: str) -> KafkaRecord:
    record = {"event_id": "e", "event_time": 1_772_323_200_000, "request_id": "q", "user_id_hash": user,
              "item_id": "i", "creator_id": creator, "surface": "home_feed", "region": "us",
              "recommender_model_version": "v1", "position": 0, "item_category": "news", "caption": "hi"}
    value = Encoder(SchemaHistory.from_folder(schemas.IMPRESSION_HISTORY).latest, WireFormat.SINGLE_OBJECT).encode(record)
    return KafkaRecord(value, None, (), "impressions", 0, 7, 1_772_323_200_000)


def test_the_decoder_drops_a_forgotten_viewers_and_creators_records_and_keeps_the_others():
    forgotten = Forgotten()
    decoder = ImpressionDecoder(forgotten=forgotten)
    assert decoder.decode(_impression("u-9", "creator-1")).creator_id == "creator-1"
    forgotten.add(*forget.encode(ForgetRequest("r2", "viewer", "u-9", 1, "dpo", "T-2")))
    forgotten.add(*forget.encode(REQUEST))
    assert decoder.decode(_impression("u-9", "creator-1")) is ERASED
    assert decoder.decode(_impression("u-1", "creator-0042")) is ERASED
    assert decoder.decode(_impression("u-1", "creator-1")).source_offset == 7


@pytest.mark.parametrize("text", ["c-1", "x" * 63, "x" * 64, "ü" * 100])
def test_an_id_is_searched_for_as_avro_writes_a_string(text):
    out = io.BytesIO()
    fastavro.schemaless_writer(out, {"type": "string"}, text)
    assert avro_string(text) == out.getvalue()
    assert avro_string("c-1") not in avro_string("c-12")


def test_a_row_written_after_a_request_lists_no_item_of_the_forgotten_creator():
    from udfs.health import HEALTH_COLUMNS, Lineage, WindowAccumulator, health_row
    from udfs.policy import Policy

    policy = Policy("v1", {"a": 0.5, "b": 0.5})
    accumulator = WindowAccumulator()
    for n, item in enumerate(["item-a", "item-b", "item-a", "item-c"]):
        accumulator.add(item, "creator-1", 0, n, [0.9, 0.1], ("a", "b"), policy, 1_000 + n)
    lineage = Lineage("job", "m", "1", "v1")
    top = HEALTH_COLUMNS.index("top_unsafe_items")
    as_is = health_row(0, 60_000, ("s", "r", "v", "c"), accumulator, lineage)
    without = health_row(0, 60_000, ("s", "r", "v", "c"), accumulator, lineage, {"item-a", "item-x"})
    assert [t[0] for t in as_is[top]] == ["item-a", "item-b", "item-c"]
    assert [t[0] for t in without[top]] == ["item-b", "item-c"]
    assert [v for i, v in enumerate(without) if i != top] == [v for i, v in enumerate(as_is) if i != top]
