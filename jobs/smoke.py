"""Smoke pipeline: Avro impressions from Kafka -> Triton scores -> per-minute counts -> ClickHouse.

It proves the four parts connect; the safety-health job builds the product on the same pieces.
Event time is the Kafka record timestamp, which the producer sets to the impression's event time.

    python -m jobs.smoke --kafka-bootstrap 127.0.0.1:19092 --triton-url 127.0.0.1:18001 \\
        --clickhouse-url chdb:///abs/path
"""
from __future__ import annotations

import argparse
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pyflink.common import Row
from pyflink.datastream import StreamExecutionEnvironment
from pyflink.table import DataTypes, StreamTableEnvironment, Table
from pyflink.table.udf import FunctionContext, ScalarFunction, udf

from jobs import clickhouse_sink, kafka_tables, runtime
from jobs.sink_rows import SINK_ROW, sink_row
from riskstream.core.times import epoch_ms
from jobs.scoring_udf import TritonScoringFunction
from riskstream.core import config
from riskstream.core.config import (ClickHouseSettings, KafkaSettings, RegistrySettings, ServiceSettings,
                                    TritonSettings)
from riskstream.io import stack_state as state
from riskstream.io.triton_client import model_info
from riskstream.core.schemas import IMPRESSION_HISTORY
from riskstream.io.registry import Registry
from udfs.wire import AvroDecoder, SchemaHistory

UNSAFE_THRESHOLD = 0.5
TABLE = "smoke_minute_counts"


@dataclass(frozen=True)
class Lineage:
    job_id: str
    model_name: str
    model_version: str


class DecodeSurface(ScalarFunction):
    """Avro payload (either wire format) -> ROW(surface, caption); undecodable ones get surface '<undecodable>'."""

    def __init__(self, registry: RegistrySettings | None):
        self.registry_settings = registry
        self.registry = None

    def open(self, function_context: FunctionContext) -> None:
        self.registry = Registry(self.registry_settings) if self.registry_settings else None
        history = SchemaHistory.from_folder(IMPRESSION_HISTORY)
        self.decoder = AvroDecoder(history.latest, history, self.registry.schema_by_id if self.registry else None)

    def close(self) -> None:
        if self.registry is not None:
            self.registry.close()

    def eval(self, payload: bytes):
        try:
            record = self.decoder.decode(payload)
        except Exception:  # noqa: BLE001 - counted under its own surface, never dropped
            return Row("<undecodable>", None)
        return Row(record["surface"], record["caption"])


class MaxSafetyScore(TritonScoringFunction):
    """The highest category score per caption; NULL when unscored (Triton unreachable, or no caption)."""

    def eval(self, captions: pd.Series) -> pd.Series:
        present, scored = self.score_present(captions)
        result = np.full(len(captions), np.nan)
        if scored is not None:
            result[present] = scored.scores.max(axis=1)
        return pd.Series(result, dtype="float64")


def _startup(offsets: dict[int, int] | None) -> str:
    if not offsets:
        return "'scan.startup.mode' = 'earliest-offset'"
    spec = ";".join(f"partition:{p},offset:{o}" for p, o in sorted(offsets.items()))
    return f"'scan.startup.mode' = 'specific-offsets', 'scan.startup.specific-offsets' = '{spec}'"


def source(t_env: StreamTableEnvironment, kafka: KafkaSettings, start_offsets: dict[int, int] | None) -> Table:
    """Raw Kafka records with their timestamp as event time, from `start_offsets` (default: earliest)
    to the offsets present when the job starts."""
    t_env.execute_sql(f"""
        CREATE TEMPORARY TABLE impressions_raw (
            payload BYTES,
            event_time TIMESTAMP_LTZ(3) METADATA FROM 'timestamp',
            WATERMARK FOR event_time AS event_time - INTERVAL '5' SECOND
        ) WITH (
            'connector' = 'kafka',
            'topic' = '{kafka.impressions_topic}',
            {kafka_tables.render(kafka_tables.connection(kafka))},
            'properties.group.id' = 'riskstream-smoke',
            {_startup(start_offsets)},
            'scan.bounded.mode' = 'latest-offset',
            'format' = 'raw'
        )""")
    return t_env.from_path("impressions_raw")


def score(t_env: StreamTableEnvironment, raw: Table, triton: TritonSettings,
          registry: RegistrySettings | None) -> Table:
    """Decode each impression and score its caption in Triton batches; count per minute and surface."""
    decode = udf(DecodeSurface(registry), result_type=DataTypes.ROW([
        DataTypes.FIELD("surface", DataTypes.STRING()), DataTypes.FIELD("caption", DataTypes.STRING())]))
    max_score = udf(MaxSafetyScore(triton), result_type=DataTypes.DOUBLE(), func_type="pandas")
    t_env.create_temporary_view("impressions_raw_view", raw)
    t_env.create_temporary_function("decode_impression", decode)
    t_env.create_temporary_function("max_safety_score", max_score)
    t_env.create_temporary_view("decoded", t_env.sql_query(
        "SELECT event_time, decode_impression(payload) AS imp FROM impressions_raw_view"))
    t_env.create_temporary_view("scored", t_env.sql_query(
        "SELECT event_time, imp.surface AS surface, max_safety_score(imp.caption) AS score FROM decoded"))
    return t_env.sql_query(f"""
        SELECT window_start, surface, COUNT(*) AS impressions, COUNT(score) AS scored,
               SUM(CASE WHEN score >= {UNSAFE_THRESHOLD} THEN 1 ELSE 0 END) AS unsafe
        FROM TABLE(TUMBLE(TABLE scored, DESCRIPTOR(event_time), INTERVAL '1' MINUTE))
        GROUP BY window_start, window_end, surface""")


def sink(env: StreamExecutionEnvironment, t_env: StreamTableEnvironment, counts: Table, clickhouse: ClickHouseSettings, lineage: Lineage) -> None:
    extra = [lineage.model_name, lineage.model_version, lineage.job_id]
    rows = t_env.to_data_stream(counts).map(
        lambda row: sink_row(TABLE, [epoch_ms(row[0]), *list(row)[1:], *extra]), output_type=SINK_ROW
    ).name("smoke-minute-counts-rows").uid("smoke-minute-counts-rows")
    insert = clickhouse_sink.ClickHouseInsert(clickhouse)
    clickhouse_sink.write(env, rows, insert, uid="smoke-minute-counts")


def build(env: StreamExecutionEnvironment, t_env: StreamTableEnvironment, settings: ServiceSettings, lineage: Lineage,
          start_offsets: dict[int, int] | None = None) -> None:
    raw = source(t_env, settings.kafka, start_offsets)
    counts = score(t_env, raw, settings.triton, settings.registry)
    sink(env, t_env, counts, settings.clickhouse, lineage)


def run(settings: ServiceSettings, start_offsets: dict[int, int] | None = None) -> Lineage:
    """Run the bounded smoke job to completion on a local MiniCluster; return its lineage."""
    model = model_info(settings.triton.url, settings.triton.model_name)
    lineage = Lineage(job_id=f"smoke-{uuid.uuid4().hex[:12]}", model_name=model.name, model_version=model.version)
    env, t_env, _ = runtime.create()
    build(env, t_env, settings, lineage, start_offsets)
    env.execute(lineage.job_id)
    return lineage


def parse_args(argv: list[str] | None) -> ServiceSettings:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    config.add_options(parser, config.SERVICE_OPTIONS + (config.STATE_DIR,))
    args = parser.parse_args(argv)
    return config.service_settings(args, state.addresses(Path(args.state_dir)))


def main(argv: list[str] | None = None) -> int:
    settings = parse_args(argv)
    print(config.describe(settings))
    lineage = run(settings)
    print(f"smoke job {lineage.job_id} finished (model {lineage.model_name} v{lineage.model_version})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
