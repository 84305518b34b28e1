"""Write a job's result rows to ClickHouse from a Flink operator (PyFlink has no Python sink API).

Rows are inserted as they arrive; tables are ReplacingMergeTree keyed by window and dimensions,
so a replay after a restart overwrites what it wrote before instead of adding to it.
With the embedded engine the operator must run with parallelism 1: one process owns a chDB path.
"""
from __future__ import annotations

from pyflink.datastream import DataStream
from pyflink.datastream.connectors.base import Sink
from pyflink.datastream.functions import FlatMapFunction, RuntimeContext

from riskstream import clickhouse
from riskstream.config import ClickHouseSettings

_DISCARD = "org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink"


class ClickHouseInsert(FlatMapFunction):
    """Insert each incoming row (a pyflink Row or tuple) into `table` with `extra` constant columns."""

    def __init__(self, settings: ClickHouseSettings, table: str, columns: list[str], extra: dict[str, object]):
        self.settings = settings
        self.table = table
        self.columns = list(columns) + list(extra)
        self.extra = list(extra.values())
        self._client = None

    def open(self, runtime_context: RuntimeContext) -> None:
        self._client = clickhouse.connect(self.settings, database=self.settings.database)

    def flat_map(self, value):
        self._client.insert(self.table, [list(value) + self.extra], column_names=self.columns)
        return iter(())

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def write(stream: DataStream, insert: ClickHouseInsert, uid: str) -> None:
    """Attach the insert operator (stable uid) and a discarding sink that makes it part of the job."""
    parallelism = 1 if insert.settings.is_embedded else stream.get_execution_environment().get_parallelism()
    written = stream.flat_map(insert).name(f"{uid}-insert").uid(f"{uid}-insert").set_parallelism(parallelism)
    written.sink_to(Sink(_DISCARD)).name(f"{uid}-done").uid(f"{uid}-done").set_parallelism(parallelism)
