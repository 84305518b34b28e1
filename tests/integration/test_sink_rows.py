"""The job's typed ClickHouse rows against the tables the migrations make, and through Flink's coder.

The row types (jobs/sink_rows.py) are declared by hand beside the SQL migrations; this checks them
against what the migrations really create in the engine, and sends a row of every table through
PyFlink's own coder (what a checkpoint and every hop between operators do) and into ClickHouse.
"""
from __future__ import annotations

import datetime as dt
import re

import pytest
from pyflink.common.typeinfo import (BasicTypeInfo, MapTypeInfo, ObjectArrayTypeInfo, PrimitiveArrayTypeInfo,
                                     RowTypeInfo)
from pyflink.fn_execution import coders

from jobs.sink_rows import SINK_ROW, TABLES, columns, sink_row, values
from tests.e2e import store
from udfs.audit import from_transition
from udfs.breakers import Transition
from udfs.health import Lineage, WindowAccumulator, health_row
from udfs.policy import Policy
from udfs.shadow import ShadowTally, shadow_row

DATABASE = "riskstream_sink_rows_test"
POLICY = Policy("v7", {"a": 0.5, "b": 0.7})
WINDOW_START = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def _flink_kind(type_info) -> str:
    """The ClickHouse type family a Flink type is written as."""
    if isinstance(type_info, RowTypeInfo):
        names, types = type_info.get_field_names(), type_info.get_field_types()
        return "Tuple(" + ", ".join(f"{n} {_flink_kind(t)}" for n, t in zip(names, types)) + ")"
    if isinstance(type_info, ObjectArrayTypeInfo):
        return f"Array({_flink_kind(type_info._element_type)})"
    if isinstance(type_info, MapTypeInfo):
        return f"Map({_flink_kind(type_info._key_type_info)}, {_flink_kind(type_info._value_type_info)})"
    if isinstance(type_info, PrimitiveArrayTypeInfo):
        return "String"  # bytes
    assert isinstance(type_info, BasicTypeInfo), type_info
    return {"Long": "Int", "Integer": "Int", "Int": "Int", "Double": "Float", "String": "String",
            "Boolean": "Bool"}[repr(type_info)]


def _clickhouse_kind(type_name: str) -> str:
    type_name = re.sub(r"\s+", " ", type_name).replace("( ", "(")
    # Times first: a wrapper is unwrapped only around a type without parentheses of its own.
    type_name = re.sub(r"DateTime64\(3, 'UTC'\)|U?Int(8|16|32|64)", "Int", type_name)
    for wrapper in ("LowCardinality", "Nullable"):
        while f"{wrapper}(" in type_name:
            type_name = re.sub(rf"{wrapper}\(([^()]*)\)", r"\1", type_name)
    return type_name.replace("Float64", "Float")


@pytest.fixture(scope="module")
def client(services):
    with store.scratch_database(services, DATABASE) as client:
        yield client


@pytest.mark.parametrize("table", list(TABLES))
def test_each_row_type_is_its_tables_insertable_columns_in_order(client, table):
    described = client.query(f"DESCRIBE TABLE {table}").result_rows
    declared = dict(zip(columns(table), TABLES[table].get_field_types()))
    # Every column the row leaves out has a default; the row's columns come in the table's order.
    assert all(default_type == "DEFAULT" for name, _, default_type, *_ in described if name not in declared)
    assert [name for name, *_ in described if name in declared] == columns(table)
    for name, type_name, *_ in described:
        if name in declared:
            assert _flink_kind(declared[name]) == _clickhouse_kind(type_name), (table, name, type_name)


def _samples() -> dict[str, list]:
    accumulator = WindowAccumulator()
    for offset, (item, scores) in enumerate([("i1", [0.9, 0.1]), ("i2", [0.2, 0.8]), ("i1", [0.95, 0.3]),
                                             ("i3", None)]):
        accumulator.add(item, f"c{offset % 2}", offset % 2, 100 + offset, scores, ("a", "b"), POLICY)
    dims = ("feed", "us", "recsys-2", "news")
    tally = ShadowTally(scored=3, unsafe_active=2, unsafe_shadow=1, to_unsafe=0, to_safe=1, flipped={"i1": 2},
                        active_versions=["v7"])
    transition = Transition(WINDOW_START, "closed", "open", 40, 30, 0.75, 0.1, 6.5, "rate above trip threshold")
    return {
        "safety_health": health_row(WINDOW_START, 60_000, dims, accumulator, Lineage("job-1", "safety", "3", "v7")),
        "shadow_health": shadow_row(WINDOW_START, 60_000, dims, "v8", tally, "job-1", "3"),
        "late_events": [1, 77, "e-77", WINDOW_START + 5, WINDOW_START, WINDOW_START + 90_000, *dims, "job-1"],
        "dead_letters": ["impressions", 2, 41, WINDOW_START, "not_avro", "why", 4, "ab" * 32, True, "", "job-1"],
        "breaker_transitions": [WINDOW_START, WINDOW_START + 60_000, *dims[:3], "closed", "open", 40, 30, 0.75, 0.1,
                                6.5, "rate above trip threshold", "v7", "job-1"],
        "audit_log": from_transition(transition, dims[:3], 60_000, POLICY, False, "job-1").values(),
        "smoke_minute_counts": [WINDOW_START, "feed", 10, 9, 2, "safety", "3", "job-1"],
        # A label for an item the job never scored: its score, flag and time are NULL.
        "label_outcomes": [WINDOW_START, "label-1", "i9", "a", True, None, None, "unknown", "random_sample", "", "",
                           None, 0, 12, "job-1"],
    }


def test_a_row_of_every_table_crosses_flinks_coder_and_lands_in_clickhouse_unchanged(client):
    coder = coders.from_type_info(SINK_ROW).get_impl()
    samples = _samples()
    assert set(samples) == set(TABLES)
    for table, sample in samples.items():
        decoded_table, decoded = values(coder.decode(coder.encode(sink_row(table, sample))))
        assert (decoded_table, decoded) == (table, [list(v) if isinstance(v, list) else v for v in sample])
        client.command(f"TRUNCATE TABLE {table}")
        client.insert(table, [decoded], column_names=columns(table))
        stored = list(client.query(f"SELECT {', '.join(columns(table))} FROM {table}",
                                   ).result_rows[0])
        expected = [_as_stored(value) for value in sample]
        assert [_as_stored(value) for value in stored] == expected, table


def _as_stored(value):
    """A sample value and the value read back, in one form: times as epoch ms, bytes as text, tuples as lists."""
    if isinstance(value, dt.datetime):
        return int(value.replace(tzinfo=value.tzinfo or dt.timezone.utc).timestamp() * 1000)
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, (list, tuple)):  # an array's named tuples come back as dicts
        return [_as_stored(list(v.values()) if isinstance(v, dict) else v) for v in value]
    if isinstance(value, dict):
        return {k: _as_stored(v) for k, v in value.items()}
    return value
