"""The safety-health job's Python operators: decode with dead letters, score, and event-time windows.

Each operator is a thin Flink shell around pure logic in `udfs/` (decoding, policy, aggregates).
"""
from __future__ import annotations

import pandas as pd
from pyflink.common import Row, Types
from pyflink.datastream import OutputTag
from pyflink.datastream.functions import KeyedProcessFunction, ProcessFunction, RuntimeContext
from pyflink.datastream.state import MapStateDescriptor

from jobs.clickhouse_sink import TAGGED_ROW, tagged
from jobs.scoring_udf import TritonScoringFunction
from udfs.health import DIMENSIONS, Lineage, WindowAccumulator, WindowSpec, health_row
from udfs.impressions import DeadLetterEncoder, ImpressionDecoder, Rejection
from udfs.policy import Policy

IMPRESSION_FIELDS = ["event_time", "event_id", "item_id", "creator_id", *DIMENSIONS, "caption",
                     "source_partition", "source_offset"]
IMPRESSION_ROW = Types.ROW_NAMED(IMPRESSION_FIELDS, [Types.LONG()] + [Types.STRING()] * 8 + [Types.INT(), Types.LONG()])
DEAD_LETTER_KAFKA = OutputTag("dead-letter-kafka", Types.ROW_NAMED(["value"], [Types.PRIMITIVE_ARRAY(Types.BYTE())]))
DEAD_LETTER_INDEX = OutputTag("dead-letter-index", TAGGED_ROW)
LATE_EVENTS = OutputTag("late-events", TAGGED_ROW)
DEAD_LETTER_COLUMNS = ("source_topic", "source_partition", "source_offset", "source_timestamp", "error_class",
                       "error_message", "payload_bytes", "job_id")
LATE_COLUMNS = ("source_partition", "source_offset", "event_id", "event_time", "window_start", "watermark",
                *DIMENSIONS, "job_id")


def _epoch_ms(value) -> int:
    """Kafka's TIMESTAMP_LTZ metadata arrives as a pyflink Instant or a datetime."""
    if hasattr(value, "to_epoch_milli"):
        return value.to_epoch_milli()
    return int(value.timestamp() * 1000)


class DecodeImpressions(ProcessFunction):
    """Raw Kafka rows -> impressions; everything else -> dead letters (topic + ClickHouse index)."""

    def __init__(self, job_id: str):
        self.job_id = job_id

    def open(self, runtime_context: RuntimeContext) -> None:
        self.decoder = ImpressionDecoder()
        self.dead_letters = DeadLetterEncoder(self.job_id)

    def process_element(self, value, ctx):
        payload, topic, partition, offset, timestamp = value[0], value[1], value[2], value[3], _epoch_ms(value[4])
        payload = bytes(payload) if payload is not None else None
        try:
            result = self.decoder.decode(payload, timestamp)
        except Exception as exc:  # noqa: BLE001 - no input may crash the job; it becomes a dead letter
            result = Rejection("unexpected_error", f"{type(exc).__name__}: {exc}")
        if isinstance(result, Rejection):
            yield DEAD_LETTER_KAFKA, Row(self.dead_letters.encode(payload, topic, partition, offset, timestamp, result))
            yield DEAD_LETTER_INDEX, tagged("dead_letters", [topic, partition, offset, timestamp, result.error_class,
                                                             result.message, len(payload or b""), self.job_id])
            return
        yield Row(result["event_time"], result["event_id"], result["item_id"], result["creator_id"],
                  *(result[d] for d in DIMENSIONS), result["caption"], partition, offset)


class ScoreCaptions(TritonScoringFunction):
    """Per-category scores per caption; NULL when unscored (Triton unreachable, or no caption)."""

    def eval(self, captions: pd.Series) -> pd.Series:
        present, scores = self.score_present(captions)
        result: list = [None] * len(captions)
        if scores is not None:
            for index, row in zip(present.nonzero()[0], scores.tolist()):
                result[index] = row
        return pd.Series(result, dtype="object")


def slice_key(row) -> str:
    return "\x1f".join(row[d] for d in DIMENSIONS)


class HealthWindows(KeyedProcessFunction):
    """Tumbling windows per slice with allowed lateness, plus a sliding view merged from them.

    State is a map window_start -> accumulator. A window fires when the watermark passes its end; a
    record for a window that already fired but is within the allowed lateness updates it and re-emits
    (a higher revision replaces the row); a record later than that is counted as a late event.
    """

    def __init__(self, spec: WindowSpec, categories: tuple[str, ...], policy: Policy, lineage: Lineage):
        self.spec = spec
        self.categories = categories
        self.policy = policy
        self.lineage = lineage

    def open(self, runtime_context: RuntimeContext) -> None:
        self.windows = runtime_context.get_map_state(
            MapStateDescriptor("windows", Types.LONG(), Types.PICKLED_BYTE_ARRAY()))

    def process_element(self, value, ctx):
        spec = self.spec
        watermark = ctx.timer_service().current_watermark()
        start = spec.start_of(value.event_time)
        end = start + spec.size_ms
        if end + spec.allowed_lateness_ms <= watermark:
            yield LATE_EVENTS, tagged("late_events", [
                value.source_partition, value.source_offset, value.event_id, value.event_time, start, watermark,
                *(value[d] for d in DIMENSIONS), self.lineage.job_id])
            return
        accumulator = self.windows.get(start)
        if accumulator is None:
            # Timers cross to the JVM: register them once per window, not once per record.
            accumulator = WindowAccumulator()
            timers = ctx.timer_service()
            for k in range(spec.views):
                timers.register_event_time_timer(end + k * spec.size_ms - 1)
            timers.register_event_time_timer(start + spec.slide_view_ms + spec.allowed_lateness_ms)
        scores = list(value.scores) if value.scores is not None else None
        accumulator.add(value.item_id, value.creator_id, value.source_partition, value.source_offset,
                        scores, self.categories, self.policy)
        self.windows.put(start, accumulator)
        # The window already fired: re-emit every row this record changed. Decided from state, not from
        # the watermark seen here, which PyFlink may report as of the start of the bundle.
        if accumulator.emitted_through >= end:
            dims = tuple(ctx.get_current_key().split("\x1f"))
            yield from self._emit(end, dims, tumbling=True)
            for boundary in range(end, accumulator.emitted_through + 1, spec.size_ms):
                yield from self._emit(boundary, dims, tumbling=False)

    def on_timer(self, timestamp: int, ctx):
        spec = self.spec
        dims = tuple(ctx.get_current_key().split("\x1f"))
        if (timestamp + 1) % spec.size_ms == 0:
            yield from self._emit(timestamp + 1, dims, tumbling=True)
            yield from self._emit(timestamp + 1, dims, tumbling=False)
        else:  # a purge timer: no late record can reach this window any more
            for start in [s for s in self.windows.keys() if s + spec.slide_view_ms + spec.allowed_lateness_ms <= timestamp]:
                self.windows.remove(start)

    def _emit(self, window_end: int, dims: tuple[str, ...], tumbling: bool):
        spec = self.spec
        size = spec.size_ms if tumbling else spec.slide_view_ms
        merged = None
        for start in range(window_end - size, window_end, spec.size_ms):
            accumulator = self.windows.get(start)
            if accumulator is None:
                continue
            if merged is None:
                merged = WindowAccumulator()
            merged.merge(accumulator)
            if accumulator.emitted_through < window_end:
                accumulator.emitted_through = window_end
                self.windows.put(start, accumulator)
        if merged is not None:
            yield tagged("safety_health", health_row(window_end - size, size, dims, merged, self.lineage))
