"""The safety-health job's keyed window step: partial aggregates -> event-time window rows per slice.

A thin Flink shell (state, timers) around pure logic in `udfs/` (window decisions, aggregates).
"""
from __future__ import annotations

from dataclasses import dataclass

from pyflink.common import Row, Types
from pyflink.datastream import OutputTag
from pyflink.datastream.functions import KeyedProcessFunction, ProcessFunction, RuntimeContext
from pyflink.datastream.state import MapStateDescriptor, ValueStateDescriptor

from jobs.breaker_operator import BREAKER_INPUT
from jobs.forget_feed import ForgetFeed
from jobs.label_join import JOIN_INPUT, verdict_input
from jobs.sink_rows import SINK_ROW, sink_row
from riskstream.core.config import KafkaSettings
from udfs import windows
from udfs.health import DIMENSIONS, Lineage, WindowAccumulator, health_row, model_versions_label
from udfs.dead_letters import DeadLetterDecoder, index_values
from udfs.partials import Partial
from udfs.shadow import shadow_row
from udfs.windows import WindowSpec
from udfs.dimensions import parse_slice_key, slice_key as encode_slice_key

LATE_EVENTS = OutputTag("late-events", SINK_ROW)
BREAKER_WINDOWS = OutputTag("breaker-windows", BREAKER_INPUT)
DEAD_LETTER_INDEX = OutputTag("dead-letter-index", SINK_ROW)
VERDICTS = OutputTag("verdicts", JOIN_INPUT)


def slice_key(row) -> str:
    """The keyed stream's key: length-prefixed, so no dimension value can collide with another slice."""
    return encode_slice_key(tuple(row[d] for d in DIMENSIONS))


class RouteIngested(ProcessFunction):
    """The ingest step's rows: partials on, dead letters' index rows to their side output (for ClickHouse),
    read back from the letter itself, and verdicts (on their way to Kafka from SQL too) to the label join."""

    def __init__(self, partial_fields: int, verdicts: bool = False):
        self.partial_fields = partial_fields
        self.verdicts = verdicts  # only when the label join reads them

    def open(self, runtime_context: RuntimeContext) -> None:
        self.dead_letters = DeadLetterDecoder()

    def process_element(self, value, ctx):
        letter = value[-1]
        if letter is not None:
            yield DEAD_LETTER_INDEX, sink_row("dead_letters", index_values(self.dead_letters.decode(bytes(letter))))
            return
        if self.verdicts and value[-2] is not None:
            yield VERDICTS, verdict_input(value[-3], value[-2])
        if value[0] is not None:
            yield Row(*value[:self.partial_fields])


@dataclass
class _SliceView:
    """This process's copy of one slice's state: read from Flink state once, then kept in step with it."""

    high_watermark: int | None
    windows: dict[int, WindowAccumulator]
    emitted_through: dict[int, int]


class HealthWindows(KeyedProcessFunction):
    """Flink state and timers for the pure window logic of `udfs.windows`, per slice.

    State is a map window_start -> accumulator, beside it window_start -> the latest row end fired with
    that window (absent: none yet), and the highest watermark a timer saw, so a record for a purged window
    stays late after a restore (the watermark then starts low again). Timers are registered once per
    window, when it is created; whatever timer calls back, the rows due and the windows to purge are
    decided from the state alone.

    Reads cost a round trip to the JVM each (a key absent from a map state is never cached), so each
    slice's state is read once per process, on its first partial or timer, into a `_SliceView`, and every
    change is written to both. Only this operator writes its state, and a restore or failover starts a
    new process, so the view cannot go stale; Flink state stays what checkpoints hold. Checkpoints hold
    the timers of the bundle they end too (the operator `jobs.keyed.keyed_process` builds).
    """

    def __init__(self, spec: WindowSpec, lineage: Lineage, kafka: KafkaSettings | None = None):
        self.spec = spec
        self.lineage = lineage
        self.kafka = kafka  # the forget requests' topic: rows emitted after a request lose the creator's items

    def open(self, runtime_context: RuntimeContext) -> None:
        self.windows = runtime_context.get_map_state(
            MapStateDescriptor("windows", Types.LONG(), Types.PICKLED_BYTE_ARRAY()))
        self.emitted_through = runtime_context.get_map_state(
            MapStateDescriptor("emitted-through", Types.LONG(), Types.LONG()))
        self.high_watermark = runtime_context.get_state(ValueStateDescriptor("high-watermark", Types.LONG()))
        self._views: dict[str, _SliceView] = {}
        self.forget = ForgetFeed(self.kafka, f"riskstream-{self.lineage.job_id}-forget-windows")
        self.forget.open()

    def close(self) -> None:
        self.forget.close()

    def _view(self, key: str) -> _SliceView:
        view = self._views.get(key)
        if view is None:
            view = self._views[key] = _SliceView(self.high_watermark.value(), dict(self.windows.items()),
                                                 dict(self.emitted_through.items()))
        return view

    def process_element(self, value, ctx):
        """One partial aggregate (one window of this slice, one ingest batch): merge it, or count it late."""
        spec = self.spec
        partial = Partial(*value)
        watermark = ctx.timer_service().current_watermark()
        start = partial.window_start
        view = self._view(ctx.get_current_key())
        if spec.is_late(start, watermark, view.high_watermark):
            for partition, offset, event_id, event_time in partial.late_records():
                yield LATE_EVENTS, sink_row("late_events", [
                    partition, offset, event_id, event_time, start, watermark, *partial.dimensions,
                    self.lineage.job_id])
            return
        accumulator = view.windows.get(start)
        if accumulator is None:
            accumulator = view.windows[start] = WindowAccumulator()
            timers = ctx.timer_service()
            for timestamp in spec.timers(start):
                timers.register_event_time_timer(timestamp)
        accumulator.merge(partial.accumulator())
        self.windows.put(start, accumulator)
        # Rows already written that hold this window are written again (a higher revision replaces them).
        # Decided from state, not from the watermark seen here, which PyFlink may report as of the bundle start.
        for row in windows.rows_to_rewrite(spec, start, view.emitted_through.get(start, 0)):
            yield from self._emit(row, partial.dimensions, view)

    def on_timer(self, timestamp: int, ctx):
        spec = self.spec
        view = self._view(ctx.get_current_key())
        if view.high_watermark is None or timestamp > view.high_watermark:
            view.high_watermark = timestamp
            self.high_watermark.update(timestamp)
        through = {start: view.emitted_through.get(start, 0) for start in view.windows}
        due = windows.due_rows(spec, through, timestamp)
        if due:
            dims = parse_slice_key(ctx.get_current_key())
            for row in due:
                yield from self._emit(row, dims, view, closing=True)
                # Only rows fired in watermark order move emitted_through (see udfs.windows.rows_to_rewrite).
                for start in windows.members(spec, row):
                    if start in view.windows and through[start] < row.end:
                        through[start] = view.emitted_through[start] = row.end
                        self.emitted_through.put(start, row.end)
        for start in windows.purgeable(spec, list(through), timestamp):
            del view.windows[start]
            view.emitted_through.pop(start, None)
            self.windows.remove(start)
            self.emitted_through.remove(start)

    def _emit(self, row: windows.Row, dims: tuple[str, ...], view: _SliceView, closing: bool = False):
        """Write one row merged from the slice's windows it spans; a tumbling window's first (`closing`)
        also goes to the breakers."""
        merged = None
        for start in windows.members(self.spec, row):
            accumulator = view.windows.get(start)
            if accumulator is None:
                continue
            if merged is None:
                merged = WindowAccumulator()
            merged.merge(accumulator)
        if merged is not None:
            yield sink_row("safety_health", health_row(row.start, row.size, dims, merged, self.lineage,
                                                       self.forget.forgotten.items))
            if closing and row.size == self.spec.size_ms:
                yield BREAKER_WINDOWS, Row(*dims[:3], row.start, merged.scored, merged.unsafe)
            if row.size == self.spec.size_ms:  # shadow evaluations are kept per tumbling window only
                for version, tally in getattr(merged, "shadows", {}).items():
                    yield sink_row("shadow_health", shadow_row(row.start, row.size, dims, version, tally,
                                                             self.lineage.job_id,
                                                             model_versions_label(merged.model_versions)))
