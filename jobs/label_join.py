"""Moderation labels joined to the job's item verdicts, for the model-bias statistics (`udfs.bias`).

source (the moderation-labels topic, raw bytes with where they came from, watermarks from the record
timestamp, which the review tool sets to the label's time) -> decode (`udfs.labels`; dead letters to the
dead-letter topic and its ClickHouse index) -> join, keyed by item id, with the item verdicts the ingest
step writes (`route-ingested` hands them over) -> `label_outcomes` rows for the ClickHouse sink.

A verdict only writes state (no read: one per item changes, on the hot path). A label waits in state until
event time passes its time by `label_wait_ms`, then meets the newest verdict of its item, so a label that
arrives before the item was scored still finds it, and a replay gives the same rows. Items are remembered
for `label_item_memory_hours` of processing time (state TTL); a label for an item the job never scored or
has forgotten keeps its rows, without a score (coverage).
"""
from __future__ import annotations

from pyflink.common import Row, Time, Types
from pyflink.datastream import DataStream, OutputTag
from pyflink.datastream.functions import KeyedProcessFunction, ProcessFunction, RuntimeContext
from pyflink.datastream.state import MapStateDescriptor, StateTtlConfig, ValueStateDescriptor
from pyflink.table import StreamTableEnvironment

from jobs import kafka_tables
from jobs.forget_feed import ForgetFeed
from jobs.keyed import keyed_process
from jobs.sink_rows import SINK_ROW, sink_row
from riskstream.core.times import epoch_ms
from riskstream.core.config import KafkaSettings, RegistrySettings
from riskstream.core.job_config import HealthJobSettings
from riskstream.core.rows import KafkaRecord, ModerationLabel
from riskstream.io.registry import Registry
from udfs.dead_letters import DeadLetterEncoder, index_values
from udfs.impressions import decode_or_reject
from udfs.labels import LabelDecoder, VerdictReader, outcome_values

BYTES = Types.PRIMITIVE_ARRAY(Types.BYTE())
STRINGS = Types.BASIC_ARRAY(Types.STRING())
LABEL_FIELDS = ["label_id", "labeled_at", "reviewer_queue", "reviewed_categories", "violating_categories",
                "source_partition", "source_offset"]
LABEL_ROW = Types.ROW_NAMED(LABEL_FIELDS, [Types.STRING(), Types.LONG(), Types.STRING(), STRINGS, STRINGS,
                                          Types.LONG(), Types.LONG()])
# What the join is keyed on: an item with either its newest verdict (Avro, as on the topic) or a label.
JOIN_INPUT = Types.ROW_NAMED(["item_id", "verdict", "label"], [Types.STRING(), BYTES, LABEL_ROW])
DEAD_LETTER = Types.ROW_NAMED(["value"], [BYTES])
LABEL_DEAD_LETTERS = OutputTag("label-dead-letters", DEAD_LETTER)
LABEL_DEAD_LETTER_INDEX = OutputTag("label-dead-letter-index", SINK_ROW)


def verdict_input(item_key: bytes, verdict: bytes) -> Row:
    """The join's input row of one verdict the ingest step wrote (its Kafka key is the item id)."""
    return Row(bytes(item_key).decode("utf-8"), bytes(verdict), None)


class DecodeLabels(ProcessFunction):
    """Label records -> the join's input rows; dead letters (and their index rows) to side outputs."""

    def __init__(self, categories: tuple[str, ...], job: HealthJobSettings, registry: RegistrySettings | None,
                 kafka: KafkaSettings | None = None):
        self.categories = categories
        self.job = job
        self.registry_settings = registry
        self.kafka = kafka

    def open(self, runtime_context: RuntimeContext) -> None:
        self.registry = Registry(self.registry_settings) if self.registry_settings else None
        self.decoder = LabelDecoder(self.categories, self.job.decode,
                                    self.registry.schema_by_id if self.registry else None)
        self.letters = DeadLetterEncoder()
        self.forget = ForgetFeed(self.kafka, f"riskstream-{self.job.job_id}-forget-labels")
        self.forget.open()

    def close(self) -> None:
        self.forget.close()
        if self.registry is not None:
            self.registry.close()

    def process_element(self, value, ctx):
        headers = tuple(sorted((k, None if v is None else bytes(v)) for k, v in (value["headers"] or {}).items()))
        record = KafkaRecord(value=None if value["payload"] is None else bytes(value["payload"]),
                             key=None if value["record_key"] is None else bytes(value["record_key"]),
                             headers=headers, topic=value["source_topic"], partition=value["source_partition"],
                             offset=value["source_offset"], timestamp_ms=epoch_ms(value["source_timestamp"]))
        result = decode_or_reject(self.decoder, record, self.job.job_id)
        if isinstance(result, ModerationLabel):
            if result.item_id in self.forget.forgotten.items:
                return  # a forgotten creator's item: its labels go with them
            yield Row(result.item_id, None, Row(result.label_id, result.labeled_at, result.reviewer_queue,
                                                list(result.reviewed_categories), list(result.violating_categories),
                                                result.source_partition, result.source_offset))
        else:
            yield LABEL_DEAD_LETTERS, Row(self.letters.encode(result))
            yield LABEL_DEAD_LETTER_INDEX, sink_row("dead_letters", index_values(result))


class JoinLabels(KeyedProcessFunction):
    """Per item: its newest verdict, and its labels waiting for event time to pass them by the wait."""

    def __init__(self, wait_ms: int, item_memory_hours: int, job_id: str):
        self.wait_ms = wait_ms
        self.item_memory_hours = item_memory_hours
        self.job_id = job_id

    def open(self, runtime_context: RuntimeContext) -> None:
        verdict = ValueStateDescriptor("verdict", BYTES)
        verdict.enable_time_to_live(StateTtlConfig.new_builder(Time.hours(self.item_memory_hours)).build())
        self.verdict = runtime_context.get_state(verdict)
        self.pending = runtime_context.get_map_state(MapStateDescriptor("pending-labels", Types.STRING(), LABEL_ROW))
        self.reader = VerdictReader()

    def process_element(self, value, ctx):
        if value["verdict"] is not None:
            self.verdict.update(value["verdict"])
            return
        label = value["label"]
        self.pending.put(label["label_id"], label)  # a label sent twice is one label
        ctx.timer_service().register_event_time_timer(label["labeled_at"] + self.wait_ms)

    def on_timer(self, timestamp: int, ctx):
        due = [label for label in self.pending.values() if label["labeled_at"] + self.wait_ms <= timestamp]
        if not due:
            return
        payload = self.verdict.value()
        item = None if payload is None else self.reader.read(bytes(payload))
        for label in due:
            self.pending.remove(label["label_id"])
            judged = ModerationLabel(label["label_id"], ctx.get_current_key(), label["labeled_at"],
                                     label["reviewer_queue"], tuple(label["reviewed_categories"]),
                                     tuple(label["violating_categories"]), label["source_partition"],
                                     label["source_offset"])
            for values in outcome_values(judged, item, self.job_id):
                yield sink_row("label_outcomes", values)


def label_outcomes(t_env: StreamTableEnvironment, verdicts: DataStream, kafka: KafkaSettings,
                   registry: RegistrySettings | None, job: HealthJobSettings, categories: tuple[str, ...]
                   ) -> tuple[DataStream, DataStream]:
    """(label_outcomes rows, dead-letter index rows), both typed rows for the ClickHouse sink; the labels'
    dead letters go to the dead-letter topic (the `dead_letter_topic` table the ingest step declared)."""
    # Bounded with the job, at the labels present when it starts.
    with_options = kafka_tables.options(kafka.moderation_labels_topic, kafka,
                                        f"riskstream-{job.job_id}-labels", job.label_start_offsets,
                                        bounded=job.bounded or bool(job.end_offsets), start_ms=job.label_start_ms)
    table = kafka_tables.create_raw_table(t_env, "moderation_labels_raw", with_options, job.out_of_orderness_ms)
    raw = t_env.to_data_stream(t_env.from_path(table))
    labels = raw.process(DecodeLabels(categories, job, registry, kafka), output_type=JOIN_INPUT) \
        .name("decode-labels").uid("decode-labels")
    statements = t_env.create_statement_set()
    statements.add_insert("dead_letter_topic", t_env.from_data_stream(labels.get_side_output(LABEL_DEAD_LETTERS)))
    statements.attach_as_datastream()
    joined = keyed_process(verdicts.union(labels).key_by(lambda row: row["item_id"], key_type=Types.STRING()),
                           JoinLabels(job.label_wait_ms, job.label_item_memory_hours, job.job_id), SINK_ROW) \
        .name("join-labels").uid("join-labels")
    return joined, labels.get_side_output(LABEL_DEAD_LETTER_INDEX)
