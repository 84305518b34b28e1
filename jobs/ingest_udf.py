"""The job's vectorized step: decode, score and pre-aggregate one Arrow batch of Kafka records.

A pandas UDF is called once per Arrow batch and must return one row per input row. It returns, on the
first record of each (window, slice) group, that group's partial aggregate (`udfs.partials`); on each
rejected record, its dead letter; on every other record, NULLs, which the SQL after it filters out.
So the keyed window step receives one row per window, slice and batch, not one per impression.

A checkpoint barrier finishes the batch in flight first, and a watermark is forwarded only after the
batch before it: every impression is in exactly one partial, and its partial reaches the window step
before any watermark that followed the impression (lateness is decided as for the impression itself).
"""
from __future__ import annotations

import dataclasses
import json
import logging

import pandas as pd
from pyflink.common import Types
from pyflink.table import DataTypes
from pyflink.table.udf import FunctionContext

from jobs.forget_feed import ForgetFeed
from jobs.policy_feed import PolicyFeed
from jobs.scoring_udf import TritonScoringFunction
from riskstream.core.config import KafkaSettings, RegistrySettings, TritonSettings
from riskstream.core.job_config import DecodeSettings, ScoreCacheSettings
from riskstream.core.rows import Impression, KafkaRecord
from riskstream.io.registry import Registry
from udfs.dead_letters import DeadLetterEncoder
from udfs.impressions import ERASED, ImpressionDecoder, decode_or_reject
from udfs.partials import PARTIAL_FIELDS, aggregate_with_leaders
from udfs.policy import Policy
from riskstream.core import schemas
from udfs import verdicts
from udfs.policy_log import PolicyTimeline
from udfs.score_cache import CacheStats, ScoreCache
from udfs.verdicts import Verdict, VerdictMemo
from udfs.wire import Encoder, SchemaHistory, WireFormat

log = logging.getLogger(__name__)

DEAD_LETTER_FIELDS = (("dead_letter", "BYTES"),)
VERDICT_FIELDS = (("verdict_key", "BYTES"), ("verdict", "BYTES"))
# The dead letter stays last: the window step's router reads it there (and its ClickHouse index from it).
INGEST_FIELDS = PARTIAL_FIELDS + VERDICT_FIELDS + DEAD_LETTER_FIELDS
# Headers cross to Python as two parallel arrays, not as a MAP: PyFlink's Arrow writer can emit a map
# batch that pyarrow refuses ("Map array child array should have no nulls"), which failed the job on
# a hostile stream. MAP_KEYS and MAP_VALUES walk the same entries, so the arrays stay aligned.
INPUT_COLUMNS = ("record_key", "payload", "MAP_KEYS(headers)", "MAP_VALUES(headers)", "source_topic",
                 "source_partition", "source_offset", "source_timestamp")


def data_type(sql_type: str):
    """The Flink data type of one of `INGEST_FIELDS`' SQL types."""
    if sql_type.startswith("ARRAY<"):
        return DataTypes.ARRAY(data_type(sql_type[len("ARRAY<"):-1]))
    return {"BIGINT": DataTypes.BIGINT(), "STRING": DataTypes.STRING(), "DOUBLE": DataTypes.DOUBLE(),
            "BYTES": DataTypes.BYTES()}[sql_type]


def type_info(sql_type: str):
    """The DataStream type of one of `PARTIAL_FIELDS`' SQL types."""
    if sql_type.startswith("ARRAY<"):
        return Types.BASIC_ARRAY(type_info(sql_type[len("ARRAY<"):-1]))
    return {"BIGINT": Types.LONG(), "STRING": Types.STRING(), "DOUBLE": Types.DOUBLE(),
            "BYTES": Types.PRIMITIVE_ARRAY(Types.BYTE())}[sql_type]


RESULT_TYPE = DataTypes.ROW([DataTypes.FIELD(name, data_type(kind)) for name, kind in INGEST_FIELDS])
# PyFlink cannot key a stream that came from SQL with ARRAY<STRING> columns (its type round trip fails),
# so partials are re-typed as a plain DataStream row first.
PARTIAL_ROW = Types.ROW_NAMED([name for name, _ in PARTIAL_FIELDS], [type_info(kind) for _, kind in PARTIAL_FIELDS])


EPOCH = pd.Timestamp(0, tz="UTC")


def _epoch_ms(timestamps: pd.Series) -> list[int]:
    """TIMESTAMP_LTZ(3) values (timezone-aware pandas timestamps) as epoch milliseconds."""
    return ((timestamps - EPOCH) // pd.Timedelta(milliseconds=1)).tolist()


def _bytes_or_none(value) -> bytes | None:
    return None if value is None else bytes(value)


def _headers(names, values) -> tuple:
    """Kafka headers as (name, value) pairs, sorted, from the two arrays SQL hands over (None: no headers)."""
    if names is None:
        return ()
    return tuple(sorted((name, _bytes_or_none(value)) for name, value in zip(names, values)))


class IngestBatch(TritonScoringFunction):
    """Kafka records -> partial aggregates per window and slice, plus dead letters (see the module doc)."""

    def __init__(self, triton: TritonSettings, job_id: str, decode: DecodeSettings,
                 registry: RegistrySettings | None, window_ms: int, categories: tuple[str, ...], policy: Policy,
                 score_cache: ScoreCacheSettings = ScoreCacheSettings(), policies: KafkaSettings | None = None,
                 verdict_memo_items: int = 100_000):
        super().__init__(triton)
        self.job_id = job_id
        self.score_cache_settings = score_cache
        self.policies = policies
        self.verdict_memo_items = verdict_memo_items
        self.decode_settings = decode
        self.registry_settings = registry
        self.window_ms = window_ms
        self.categories = categories
        self.policy = policy

    def open(self, function_context: FunctionContext) -> None:
        super().open(function_context)
        self.registry = Registry(self.registry_settings) if self.registry_settings else None
        self.decoder = ImpressionDecoder(self.decode_settings, self.registry.schema_by_id if self.registry else None)
        self.dead_letters = DeadLetterEncoder()
        self.verdict_memo = VerdictMemo(self.verdict_memo_items)
        self.verdict_encoder = Encoder(SchemaHistory.from_folder(schemas.VERDICT_HISTORY).latest, WireFormat.SINGLE_OBJECT)
        self.feed = PolicyFeed(self.policies, f"riskstream-{self.job_id}-policies", self.policy, self.categories)
        self.feed.open()
        # Before the first record is decoded: every request there is (a replay of old offsets meets them all).
        self.forget = ForgetFeed(self.policies, f"riskstream-{self.job_id}-forget")
        self.forget.open()
        self.decoder.forgotten = self.forget.forgotten
        self.erased = function_context.get_metric_group().counter("forgotten_records")
        settings = self.score_cache_settings
        self.cache = ScoreCache(settings.max_items, settings.ttl_s) if settings.enabled else None
        if self.cache is not None:
            self.cache_metrics = _CacheMetrics(function_context.get_metric_group().add_group("score_cache"),
                                               self.cache)

    def _policy(self):
        """The policy (or, once there are several or a shadow, the timeline by event time) judging this batch."""
        timeline = self.feed.timeline()
        return timeline.latest if timeline.constant else timeline

    def close(self) -> None:
        self.feed.close()
        self.forget.close()
        if self.registry is not None:
            self.registry.close()
        if self.cache is not None:
            # One line a benchmark or an operator can read after a bounded run (the metrics end with the job).
            log.info("score cache %s", json.dumps({"job_id": self.job_id, "size": len(self.cache),
                                                   **dataclasses.asdict(self.cache.stats)}))
        super().close()

    def eval(self, keys, payloads, header_keys, header_values, topics, partitions, offsets, timestamps) -> pd.DataFrame:
        count = len(payloads)
        columns: dict[str, list] = {name: [None] * count for name, _ in INGEST_FIELDS}
        impressions: list[Impression] = []
        rows: list[int] = []
        for row, (key, value, names, values, topic, partition, offset, timestamp_ms) in enumerate(zip(
                keys, payloads, header_keys, header_values, topics, partitions.tolist(), offsets.tolist(),
                _epoch_ms(timestamps))):
            record = KafkaRecord(value=_bytes_or_none(value), key=_bytes_or_none(key),
                                 headers=_headers(names, values),
                                 topic=topic, partition=partition, offset=offset, timestamp_ms=timestamp_ms)
            result = decode_or_reject(self.decoder, record, self.job_id)
            if isinstance(result, Impression):
                impressions.append(result)
                rows.append(row)
            elif result is ERASED:
                self.erased.inc()
            else:
                columns["dead_letter"][row] = self.dead_letters.encode(result)
        policy = self._policy()
        scores, versions = self._scores(impressions)
        self._verdicts(impressions, scores, versions, rows, policy, columns)
        for position, partial in aggregate_with_leaders(impressions, scores, self.window_ms, self.categories,
                                                        policy, versions):
            row = rows[position]
            for name, _ in PARTIAL_FIELDS:
                columns[name][row] = getattr(partial, name)
        return pd.DataFrame({name: pd.Series(values, dtype="object") for name, values in columns.items()})

    def _verdicts(self, impressions: list[Impression], scores: list, versions: list, rows: list[int], policy,
                  columns: dict) -> None:
        """Each scored impression's item verdict, on its own row where it differs from the one last written."""
        policy_at = policy.at if isinstance(policy, PolicyTimeline) else (lambda _: policy)
        model_name = self.triton.model_name
        for impression, item_scores, model_version, row in zip(impressions, scores, versions, rows):
            if item_scores is None:
                continue
            judging = policy_at(impression.event_time)
            verdict = Verdict(impression.item_id,
                              *verdicts.judge(item_scores, self.categories, impression.item_category, judging),
                              impression.item_category, judging.version, model_name, model_version,
                              impression.event_time, impression.source_partition, impression.source_offset,
                              self.job_id, dict(zip(self.categories, map(float, item_scores))),
                              impression.creator_cohort, impression.creator_id)
            if self.verdict_memo.changed(verdict):
                columns["verdict_key"][row] = impression.item_id.encode("utf-8")
                columns["verdict"][row] = self.verdict_encoder.encode(verdicts.to_record(verdict))

    def _scores(self, impressions: list[Impression]) -> tuple[list, list]:
        """Each impression's per-category scores and the model version that produced them, or None, None
        where it could not be scored."""
        if self.cache is None:
            return self._score_each(impressions)
        plan = self.cache.plan([(i.item_id, i.caption) for i in impressions])
        scored = self.scorer.score_versioned(plan.captions) if plan.captions else None
        if scored is None:
            result = self.cache.complete(plan, None, None)
        else:
            result = self.cache.complete(plan, scored.scores.tolist(), scored.versions)
        self.cache_metrics.update()
        return result, plan.versions

    def _score_each(self, impressions: list[Impression]) -> tuple[list, list]:
        """Every impression sent to the model, repeats included (no cache)."""
        present, scored = self.score_present(pd.Series([i.caption for i in impressions], dtype="object"))
        result: list = [None] * len(impressions)
        versions: list = [None] * len(impressions)
        if scored is not None:
            for index, row, version in zip(present.nonzero()[0], scored.scores.tolist(), scored.versions):
                result[index], versions[index] = row, version
        return result, versions


class _CacheMetrics:
    """The cache's counts as Flink metrics (counters advanced by what changed since the last batch)."""

    def __init__(self, group, cache: ScoreCache):
        self.cache = cache
        self.counters = {name: group.counter(name) for name in
                         ("hits", "misses", "evictions", "expirations", "invalidations")}
        self.seen = CacheStats()
        group.gauge("size", lambda: len(cache))

    def update(self) -> None:
        stats = self.cache.stats
        for name, counter in self.counters.items():
            delta = getattr(stats, name) - getattr(self.seen, name)
            if delta:
                counter.inc(delta)
        self.seen = dataclasses.replace(stats)
