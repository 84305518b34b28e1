"""The safety-health job's Python operators: decode with dead letters, score, and event-time windows.

Each operator is a thin Flink shell around pure logic in `udfs/` (decoding, policy, aggregates).
"""
from __future__ import annotations

import pandas as pd
from pyflink.common import Row, Types
from pyflink.datastream import OutputTag
from pyflink.datastream.functions import KeyedProcessFunction, ProcessFunction, RuntimeContext
from pyflink.datastream.state import MapStateDescriptor, ValueStateDescriptor

from jobs.clickhouse_sink import TAGGED_ROW, tagged
from jobs.scoring_udf import TritonScoringFunction
from riskstream.core.config import RegistrySettings
from riskstream.core.job_config import DecodeSettings
from riskstream.core.errors import DecodeError, ErrorCode, SchemaRegistryUnavailable
from riskstream.core.rows import KafkaRecord
from riskstream.io.registry import Registry
from udfs import windows
from udfs.health import DIMENSIONS, Lineage, WindowAccumulator, health_row
from udfs.windows import WindowSpec
from udfs.dead_letters import DeadLetterEncoder, dead_letter
from udfs.dimensions import parse_slice_key, slice_key as encode_slice_key
from udfs.impressions import ImpressionDecoder
from udfs.policy import Policy

IMPRESSION_FIELDS = ["event_time", "event_id", "item_id", "creator_id", *DIMENSIONS, "caption",
                     "source_partition", "source_offset"]
IMPRESSION_ROW = Types.ROW_NAMED(IMPRESSION_FIELDS, [Types.LONG()] + [Types.STRING()] * 8 + [Types.INT(), Types.LONG()])
DEAD_LETTER_KAFKA = OutputTag("dead-letter-kafka", Types.ROW_NAMED(["value"], [Types.PRIMITIVE_ARRAY(Types.BYTE())]))
DEAD_LETTER_INDEX = OutputTag("dead-letter-index", TAGGED_ROW)
LATE_EVENTS = OutputTag("late-events", TAGGED_ROW)
DEAD_LETTER_COLUMNS = ("source_topic", "source_partition", "source_offset", "source_timestamp", "error_class",
                       "error_message", "payload_bytes", "payload_sha256", "payload_truncated", "schema_ref", "job_id")
LATE_COLUMNS = ("source_partition", "source_offset", "event_id", "event_time", "window_start", "watermark",
                *DIMENSIONS, "job_id")


def _epoch_ms(value) -> int:
    """Kafka's TIMESTAMP_LTZ metadata arrives as a pyflink Instant or a datetime."""
    if hasattr(value, "to_epoch_milli"):
        return value.to_epoch_milli()
    return int(value.timestamp() * 1000)


def _optional_bytes(value) -> bytes | None:
    return bytes(value) if value is not None else None


def kafka_record(value) -> KafkaRecord:
    """A source row (key, value, headers, topic, partition, offset, timestamp) as a typed record."""
    key, payload, headers, topic, partition, offset, timestamp = value
    header_items = tuple((k, _optional_bytes(v)) for k, v in sorted((headers or {}).items()))
    return KafkaRecord(value=_optional_bytes(payload), key=_optional_bytes(key), headers=header_items, topic=topic,
                       partition=partition, offset=offset, timestamp_ms=_epoch_ms(timestamp))


class DecodeImpressions(ProcessFunction):
    """Raw Kafka rows -> impressions; everything else -> dead letters (topic + ClickHouse index)."""

    def __init__(self, job_id: str, decode: DecodeSettings, registry: RegistrySettings | None):
        self.job_id = job_id
        self.settings = decode
        self.registry_settings = registry
        self.registry = None

    def open(self, runtime_context: RuntimeContext) -> None:
        self.registry = Registry(self.registry_settings) if self.registry_settings else None
        self.decoder = ImpressionDecoder(self.settings, self.registry.schema_by_id if self.registry else None)
        self.dead_letters = DeadLetterEncoder()

    def close(self) -> None:
        if self.registry is not None:
            self.registry.close()

    def process_element(self, value, ctx):
        record = kafka_record(value)
        try:
            impression = self.decoder.decode(record)
        except DecodeError as exc:
            yield from self._reject(record, exc)
            return
        except SchemaRegistryUnavailable:
            raise  # not the producer's fault: fail fast (with the address) and restart from the checkpoint
        except Exception as exc:  # noqa: BLE001 - no input may crash the job; it becomes a dead letter
            yield from self._reject(record, DecodeError(ErrorCode.UNEXPECTED_ERROR, f"{type(exc).__name__}: {exc}"))
            return
        yield Row(*(getattr(impression, f) for f in IMPRESSION_FIELDS))

    def _reject(self, record: KafkaRecord, error: DecodeError):
        letter = dead_letter(record, error, self.job_id, self.settings)
        yield DEAD_LETTER_KAFKA, Row(self.dead_letters.encode(letter))
        yield DEAD_LETTER_INDEX, tagged("dead_letters", [
            letter.source_topic, letter.source_partition, letter.source_offset, letter.source_timestamp,
            letter.error_class, letter.error_message, max(letter.payload_size, 0), letter.payload_sha256 or "",
            letter.payload_truncated, letter.schema_ref or "", self.job_id])


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
    """The keyed stream's key: length-prefixed, so no dimension value can collide with another slice."""
    return encode_slice_key(tuple(row[d] for d in DIMENSIONS))


class HealthWindows(KeyedProcessFunction):
    """Flink state and timers for the pure window logic of `udfs.windows`, per slice.

    State is a map window_start -> accumulator, and beside it window_start -> the latest row end fired
    with that window (absent: none yet). The second is kept apart so a timer reads a few longs, not every
    pickled accumulator of the slice, to decide what is due. Timers are registered once per window, when
    it is created (each registration crosses to the JVM); whatever timer calls back, the rows due and the
    windows to purge are decided from the state alone. The highest watermark a timer saw is kept too, so
    a record for a purged window stays late after a restore (the watermark then starts low again); it is
    read from state once per slice per process and cached, since every record needs it.

    PyFlink 2.3 applies the timers a bundle registered only after the checkpoint that ended the bundle,
    so that checkpoint lacks them (see the README's known limits). Re-registering a slice's timers on
    its first touch after a restore (iterating its windows in process_element) was tried and lost
    rows in the crash test, so it is not done.
    """

    def __init__(self, spec: WindowSpec, categories: tuple[str, ...], policy: Policy, lineage: Lineage):
        self.spec = spec
        self.categories = categories
        self.policy = policy
        self.lineage = lineage

    def open(self, runtime_context: RuntimeContext) -> None:
        self.windows = runtime_context.get_map_state(
            MapStateDescriptor("windows", Types.LONG(), Types.PICKLED_BYTE_ARRAY()))
        self.emitted_through = runtime_context.get_map_state(
            MapStateDescriptor("emitted-through", Types.LONG(), Types.LONG()))
        self.high_watermark = runtime_context.get_state(ValueStateDescriptor("high-watermark", Types.LONG()))
        self._high: dict[str, int | None] = {}

    def _high_watermark(self, key: str) -> int | None:
        if key not in self._high:
            self._high[key] = self.high_watermark.value()
        return self._high[key]

    def process_element(self, value, ctx):
        spec = self.spec
        watermark = ctx.timer_service().current_watermark()
        start = spec.start_of(value.event_time)
        if spec.is_late(start, watermark, self._high_watermark(ctx.get_current_key())):
            yield LATE_EVENTS, tagged("late_events", [
                value.source_partition, value.source_offset, value.event_id, value.event_time, start, watermark,
                *(value[d] for d in DIMENSIONS), self.lineage.job_id])
            return
        accumulator = self.windows.get(start)
        if accumulator is None:
            accumulator = WindowAccumulator()
            timers = ctx.timer_service()
            for timestamp in spec.timers(start):
                timers.register_event_time_timer(timestamp)
        scores = list(value.scores) if value.scores is not None else None
        accumulator.add(value.item_id, value.creator_id, value.source_partition, value.source_offset,
                        scores, self.categories, self.policy)
        self.windows.put(start, accumulator)
        # Rows already written that hold this window are written again (a higher revision replaces them).
        # Decided from state, not from the watermark seen here, which PyFlink may report as of the bundle start.
        rows = windows.rows_to_rewrite(spec, start, self.emitted_through.get(start) or 0)
        if rows:
            dims = parse_slice_key(ctx.get_current_key())
            cache = {start: accumulator}
            for row in rows:
                yield from self._emit(row, dims, cache)

    def on_timer(self, timestamp: int, ctx):
        spec = self.spec
        key = ctx.get_current_key()
        high = self._high_watermark(key)
        if high is None or timestamp > high:
            self._high[key] = timestamp
            self.high_watermark.update(timestamp)
        through = {start: 0 for start in self.windows.keys()}
        through.update(self.emitted_through.items())
        due = windows.due_rows(spec, through, timestamp)
        if due:
            dims = parse_slice_key(ctx.get_current_key())
            cache: dict[int, WindowAccumulator | None] = {}
            for row in due:
                yield from self._emit(row, dims, cache)
                # Only rows fired in watermark order move emitted_through (see udfs.windows.rows_to_rewrite).
                for start in windows.members(spec, row):
                    if cache.get(start) is not None and through[start] < row.end:
                        through[start] = row.end
                        self.emitted_through.put(start, row.end)
        for start in windows.purgeable(spec, list(through), timestamp):
            self.windows.remove(start)
            self.emitted_through.remove(start)

    def _emit(self, row: windows.Row, dims: tuple[str, ...], cache: dict):
        """Write one row merged from its windows in state; `cache` holds the accumulators already read."""
        merged = None
        for start in windows.members(self.spec, row):
            if start not in cache:
                cache[start] = self.windows.get(start)
            accumulator = cache[start]
            if accumulator is None:
                continue
            if merged is None:
                merged = WindowAccumulator()
            merged.merge(accumulator)
        if merged is not None:
            yield tagged("safety_health", health_row(row.start, row.size, dims, merged, self.lineage))
