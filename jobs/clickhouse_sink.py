"""Write a job's result rows to ClickHouse from a Flink operator (PyFlink has no Python sink API).

Every ClickHouse-bound stream of a job is unioned into one stream of (table, values) pairs and written
by one operator with parallelism 1: the embedded engine admits only one process per chDB path, and
its result rows (per window and slice) are few next to the input. Tables are ReplacingMergeTree keyed by what identifies a row, so a replay
after a restart overwrites what it wrote before instead of adding to it.
"""
from __future__ import annotations

import pickle

from pyflink.common import Row, Types
from pyflink.datastream import DataStream
from pyflink.datastream.connectors.base import Sink
from pyflink.datastream.functions import FlatMapFunction, RuntimeContext

from riskstream import clickhouse
from riskstream.config import ClickHouseSettings

_DISCARD = "org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink"
TAGGED_ROW = Types.ROW_NAMED(["table", "values"], [Types.STRING(), Types.PRIMITIVE_ARRAY(Types.BYTE())])


def tagged(table: str, values: list) -> Row:
    """A row bound for `table`; values are pickled so one stream type carries every table."""
    return Row(table, pickle.dumps(values, protocol=pickle.HIGHEST_PROTOCOL))


class ClickHouseInsert(FlatMapFunction):
    """Insert each incoming (table, values) row into its table as it arrives.

    Rows are not buffered: a row held in memory when a checkpoint completes would be lost by a crash,
    because the window that emitted it does not fire again after a restore. Batching (one insert, one
    ClickHouse part, per flush) needs the pending rows in checkpointed state; see the README's bench notes.
    """

    def __init__(self, settings: ClickHouseSettings, tables: dict[str, tuple[str, ...]]):
        self.settings = settings
        self.tables = {name: list(columns) for name, columns in tables.items()}
        self._client = None

    def open(self, runtime_context: RuntimeContext) -> None:
        self._client = clickhouse.connect(self.settings, database=self.settings.database)

    def flat_map(self, value):
        table = value[0]
        self._client.insert(table, [pickle.loads(bytes(value[1]))], column_names=self.tables[table])
        return iter(())

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def write(stream: DataStream, insert: ClickHouseInsert, uid: str) -> None:
    """Attach the insert operator (stable uid) and a discarding sink that makes it part of the job."""
    written = stream.flat_map(insert).name(f"{uid}-insert").uid(f"{uid}-insert").set_parallelism(1)
    written.sink_to(Sink(_DISCARD)).name(f"{uid}-done").uid(f"{uid}-done").set_parallelism(1)
