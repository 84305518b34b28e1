"""Write a job's result rows to ClickHouse from a Flink operator (PyFlink has no Python sink API).

Every ClickHouse-bound stream of a job is unioned into one stream of typed rows (`jobs.sink_rows`: the
table's name and its row, in Flink's type system) and written by one operator with parallelism 1: the
embedded engine admits only one process per chDB path, and result rows (per window and slice) are few next to the input. Tables are ReplacingMergeTree keyed by
what identifies a row, so a replay after a restart overwrites what it wrote before instead of adding to it.
"""
from __future__ import annotations

import logging
import pickle  # only to read the savepoints of versions before typed rows
import time

from pyflink.common import Row, Types
from pyflink.datastream import DataStream, StreamExecutionEnvironment
from pyflink.datastream.connectors.base import Sink
from pyflink.datastream.functions import KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import ListStateDescriptor, ValueStateDescriptor

from jobs.keyed import keyed_process
from jobs.sink_rows import SINK_ROW, TABLE_NAMES, columns, values as row_values
from riskstream.io import clickhouse
from riskstream.core.config import ClickHouseSettings
from riskstream.core.errors import EmbeddedPathHeld

END_OF_TIME = 2 ** 63 - 1  # Flink's final watermark (Long.MAX_VALUE)
# PyFlink opens a Python operator when its first bundle arrives, not when the task starts: one marker
# row at the start makes the writer open ClickHouse (and own an embedded path) straight away.
OPEN_MARKER = "__open__"
HELD_PATH_WAIT_S = 30.0  # an embedded path held briefly by a reader (a query, `stack status`) is waited for
log = logging.getLogger(__name__)


class ClickHouseInsert(KeyedProcessFunction):
    """Buffer typed rows (`jobs.sink_rows.SINK_ROW`) in checkpointed state and insert them in batches.

    One insert per table per flush, because every insert makes a ClickHouse part and many small parts
    slow inserts down. A flush happens when `max_rows` are pending, when the watermark next advances
    (window results arrive in bursts at watermark advances; the final watermark of a bounded run
    flushes the rest), and at the latest `flush_interval_ms` after the first pending row. Pending rows
    are keyed state: a checkpoint holds them and a restore writes them, so none is lost by a crash; a
    flush that a crash replays overwrites its own rows (ReplacingMergeTree).
    """

    def __init__(self, settings: ClickHouseSettings, max_rows: int = 5000, flush_interval_ms: int = 1000):
        self.settings = settings
        self.tables = {table: columns(table) for table in TABLE_NAMES}
        self.max_rows = max_rows
        self.flush_interval_ms = flush_interval_ms
        self._client = None

    def open(self, runtime_context: RuntimeContext) -> None:
        # Opened here, not at the first row, so the job owns an embedded path from its start; one held by
        # another process fails the task with that process named. The owner brings the schema up to date
        # (nobody else can open an embedded path while the job runs); applied migrations are skipped.
        deadline = time.monotonic() + HELD_PATH_WAIT_S
        while True:
            try:
                self._client = clickhouse.connect(self.settings, database=self.settings.database)
                break
            except EmbeddedPathHeld as exc:
                if time.monotonic() > deadline:
                    raise
                log.warning("waiting for the embedded ClickHouse path: %s", exc)
                time.sleep(1.0)
        clickhouse.migrate(self._client, retention=self.settings.retention)
        self.pending = runtime_context.get_list_state(ListStateDescriptor("pending-rows", SINK_ROW))
        # A savepoint of a version before typed rows holds (table, pickled values) pairs: written at the first
        # flush after the restore, then gone (this state is never written again).
        self.legacy_pending = runtime_context.get_list_state(
            ListStateDescriptor("pending", Types.PICKLED_BYTE_ARRAY()))
        self._legacy_drained = False
        self.count = runtime_context.get_state(ValueStateDescriptor("count", Types.INT()))

    def process_element(self, value, ctx):
        if value[0] == OPEN_MARKER:
            return iter(())
        self.pending.add(value)
        count = (self.count.value() or 0) + 1
        self.count.update(count)
        timers = ctx.timer_service()
        watermark = timers.current_watermark()
        # After the final watermark (end of input, or a drain) no timer fires again, and the windows'
        # last rows can come after it (PyFlink forwards it before all of on_timer's output): write at once.
        if count >= self.max_rows or watermark >= END_OF_TIME:
            self._flush()
        elif count == 1:
            timers.register_event_time_timer(watermark + 1)
            timers.register_processing_time_timer(timers.current_processing_time() + self.flush_interval_ms)
        return iter(())

    def on_timer(self, timestamp: int, ctx):
        self._flush()
        return iter(())

    def _flush(self) -> None:
        batches: dict[str, list] = {}
        for row in self.pending.get() or []:
            table, values = row_values(row)
            batches.setdefault(table, []).append(values)
        if not self._legacy_drained:
            for table, values in self.legacy_pending.get() or []:
                batches.setdefault(table, []).append(pickle.loads(values))
        for table, rows in batches.items():
            self._client.insert(table, rows, column_names=self.tables[table])
        self.pending.clear()
        self.count.clear()
        if not self._legacy_drained:
            self.legacy_pending.clear()
            self._legacy_drained = True

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def discarding_sink() -> Sink:
    """Flink's sink that drops what it gets: it ends a stream whose work was done by the operator before."""
    return Sink("org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink")


def write(env: StreamExecutionEnvironment, stream: DataStream, insert: ClickHouseInsert, uid: str) -> None:
    """Attach the insert operator (stable uid) and a discarding sink that makes it part of the job."""
    opener = env.from_collection([Row(OPEN_MARKER, *[None] * len(TABLE_NAMES))], type_info=SINK_ROW) \
        .name(f"{uid}-open").uid(f"{uid}-open").set_parallelism(1)
    parallelism = env.get_parallelism()
    if parallelism > 1:
        # PyFlink's key-by step takes the parallelism of its input and a forward edge from it, so every
        # stream unioned before it must run at the job's parallelism: the single opener row is spread out.
        opener = opener.map(lambda row: row, output_type=SINK_ROW).name(f"{uid}-open-spread") \
            .uid(f"{uid}-open-spread").set_parallelism(parallelism)
    # One writer, one key: the embedded engine admits one process, and batches are what make inserts cheap.
    written = keyed_process(stream.union(opener).key_by(lambda row: 0, key_type=Types.INT()), insert, Types.INT()) \
        .name(f"{uid}-insert").uid(f"{uid}-insert").set_parallelism(1)
    written.sink_to(discarding_sink()).name(f"{uid}-done").uid(f"{uid}-done").set_parallelism(1)
