"""The ClickHouse writer's flush, one module alone: its Flink state and its client are stand-ins here (the
e2e tests write through a real job into real ClickHouse; tests/integration/test_sink_rows.py checks the
row types against the real tables)."""
from __future__ import annotations

import pickle

from jobs.clickhouse_sink import ClickHouseInsert
from jobs.sink_rows import columns, sink_row
from riskstream.core.config import ClickHouseSettings


class _ListState:
    def __init__(self, items=()):
        self.items = list(items)

    def get(self):
        return list(self.items)

    def add(self, item):
        self.items.append(item)

    def clear(self):
        self.items.clear()


class _ValueState:
    def __init__(self):
        self.current = None

    def value(self):
        return self.current

    def update(self, value):
        self.current = value

    def clear(self):
        self.current = None


class _Client:
    def __init__(self):
        self.inserts = []

    def insert(self, table, rows, column_names):
        self.inserts.append((table, rows, column_names))


SMOKE = [1_767_225_600_000, "feed", 10, 9, 2, "safety", "3", "job-1"]
LATE = [1, 77, "e-77", 5, 0, 90_000, "feed", "us", "recsys-2", "news", "job-1"]


def _writer(legacy=()):
    writer = ClickHouseInsert(ClickHouseSettings("chdb:///nowhere"))
    writer._client = _Client()
    writer.pending, writer.count = _ListState(), _ValueState()
    writer.legacy_pending, writer._legacy_drained = _ListState(legacy), False
    return writer


def test_one_insert_per_table_with_the_rows_in_arrival_order():
    writer = _writer()
    for row in (sink_row("smoke_minute_counts", SMOKE), sink_row("late_events", LATE),
                sink_row("smoke_minute_counts", [SMOKE[0] + 60_000, *SMOKE[1:]])):
        writer.pending.add(row)
    writer._flush()
    assert writer._client.inserts == [
        ("smoke_minute_counts", [SMOKE, [SMOKE[0] + 60_000, *SMOKE[1:]]], columns("smoke_minute_counts")),
        ("late_events", [LATE], columns("late_events"))]
    assert writer.pending.get() == []


def test_rows_pending_in_a_savepoint_from_before_typed_rows_are_written_once():
    legacy = [("late_events", pickle.dumps(LATE))]
    writer = _writer(legacy)
    writer.pending.add(sink_row("smoke_minute_counts", SMOKE))
    writer._flush()
    assert writer._client.inserts == [("smoke_minute_counts", [SMOKE], columns("smoke_minute_counts")),
                                      ("late_events", [LATE], columns("late_events"))]
    writer.pending.add(sink_row("smoke_minute_counts", SMOKE))
    writer._flush()
    assert [table for table, *_ in writer._client.inserts] == ["smoke_minute_counts", "late_events",
                                                               "smoke_minute_counts"]
    assert writer.legacy_pending.get() == []
