"""Per-slice circuit breakers in the job: closed 1-minute windows per slice -> breaker transitions.

A thin Flink shell (state, timers) around `udfs.breakers`. The window step sends, for every tumbling
window it closes, the window's scored and unsafe counts per category slice; this step sums them per
breaker slice (surface x region x recommender model version) and, once the watermark has passed the
window (an event-time timer), lets the slice's breaker observe it with the parameters of the policy in
force at that window. Transitions go to the breaker-state topic (Avro, keyed by slice) and, with their
evidence, to ClickHouse.
"""
from __future__ import annotations

from pyflink.common import Row, Types
from pyflink.datastream import OutputTag
from pyflink.datastream.functions import KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import MapStateDescriptor, ValueStateDescriptor

from jobs.sink_rows import SINK_ROW, sink_row
from jobs.policy_feed import PolicyFeed
from riskstream.core import schemas
from riskstream.core.config import KafkaSettings
from udfs.breakers import BREAKER_DIMENSIONS, Breaker, Transition
from udfs import audit
from udfs.dimensions import parse_slice_key, slice_key
from udfs.policy import Policy
from udfs.wire import Encoder, SchemaHistory, WireFormat

# One closed tumbling window of one category slice, as the window step sends it.
BREAKER_INPUT = Types.ROW_NAMED([*BREAKER_DIMENSIONS, "window_start", "scored", "unsafe"],
                                [Types.STRING(), Types.STRING(), Types.STRING(), Types.LONG(), Types.LONG(),
                                 Types.LONG()])
# A transition for the breaker-state topic: the slice key and the Avro record.
BREAKER_RECORD = Types.ROW_NAMED(["key", "value"], [Types.PRIMITIVE_ARRAY(Types.BYTE()),
                                                   Types.PRIMITIVE_ARRAY(Types.BYTE())])
TRANSITIONS = OutputTag("breaker-transitions", SINK_ROW)


def breaker_key(row) -> str:
    return slice_key(tuple(row[d] for d in BREAKER_DIMENSIONS))


class SliceBreakers(KeyedProcessFunction):
    """State: the slice's breaker, and the counts of windows the watermark has not yet passed."""

    def __init__(self, window_ms: int, kafka: KafkaSettings | None, starting: Policy, categories: tuple[str, ...],
                 job_id: str):
        self.window_ms = window_ms
        self.kafka = kafka
        self.starting = starting
        self.categories = categories
        self.job_id = job_id

    def open(self, runtime_context: RuntimeContext) -> None:
        self.breaker = runtime_context.get_state(ValueStateDescriptor("breaker", Types.PICKLED_BYTE_ARRAY()))
        self.pending = runtime_context.get_map_state(
            MapStateDescriptor("pending-windows", Types.LONG(), Types.PICKLED_BYTE_ARRAY()))
        self.feed = PolicyFeed(self.kafka, f"riskstream-{self.job_id}-breakers", self.starting, self.categories)
        self.feed.open()
        self.encoder = Encoder(SchemaHistory.from_folder(schemas.BREAKER_HISTORY).latest, WireFormat.SINGLE_OBJECT)

    def close(self) -> None:
        self.feed.close()

    def process_element(self, value, ctx):
        start = value["window_start"]
        counts = self.pending.get(start)
        if counts is None:
            counts = [0, 0]
            ctx.timer_service().register_event_time_timer(start + self.window_ms - 1)
        counts[0] += value["scored"]
        counts[1] += value["unsafe"]
        self.pending.put(start, counts)

    def on_timer(self, timestamp: int, ctx):
        due = sorted(start for start in self.pending.keys() if start + self.window_ms - 1 <= timestamp)
        if not due:
            return
        breaker = self.breaker.value() or Breaker()
        timeline = self.feed.timeline()
        dims = parse_slice_key(ctx.get_current_key())
        for start in due:
            scored, unsafe = self.pending.get(start)
            self.pending.remove(start)
            policy = timeline.at(start)
            forced = policy.breaker_override(*dims)
            manual = forced != breaker.forced  # an override set or lifted moves it, not the rates
            for transition in breaker.observe(start, scored, unsafe, policy.breaker, forced,
                                              f"policy {policy.version} ({policy.author}: {policy.reason})"):
                yield from self._emit(transition, dims, policy, manual)
        self.breaker.update(breaker)

    def _emit(self, transition: Transition, dims: tuple[str, ...], policy: Policy, manual: bool):
        end = transition.window_start + self.window_ms
        policy_version = policy.version
        record = {**dict(zip(BREAKER_DIMENSIONS, dims)), "state": transition.to_state,
                  "from_state": transition.from_state, "window_start": transition.window_start, "window_end": end,
                  "scored": transition.scored, "unsafe": transition.unsafe, "rate": transition.rate,
                  "baseline_rate": transition.baseline_rate, "z": transition.z, "reason": transition.reason,
                  "policy_version": policy_version, "job_id": self.job_id}
        yield Row(slice_key(dims).encode("utf-8"), self.encoder.encode(record))
        yield TRANSITIONS, sink_row("breaker_transitions", [
            transition.window_start, end, *dims, transition.from_state, transition.to_state, transition.scored,
            transition.unsafe, transition.rate, transition.baseline_rate, transition.z, transition.reason,
            policy_version, self.job_id])
        yield TRANSITIONS, sink_row("audit_log", audit.from_transition(
            transition, dims, self.window_ms, policy, manual, self.job_id).values())
