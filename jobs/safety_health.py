"""The safety-health job: impressions -> Triton scores -> event-time windows -> ClickHouse.

source (Kafka, raw Avro bytes with topic/partition/offset) -> ingest (per Arrow batch: decode, dead
letters to their topic, one Triton call, partial aggregates per window and slice) -> windows (per
surface x region x model version x category, tumbling plus a sliding view, allowed lateness, late
events counted) -> sink (ClickHouse).

    python -m jobs.safety_health --help
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

from pyflink.common import Types
from pyflink.datastream import DataStream, StreamExecutionEnvironment
from pyflink.table import StreamTableEnvironment
from pyflink.table.udf import udf

from jobs import (breaker_operator, clickhouse_sink, health_operators as ops, kafka_tables, label_join, policy_audit,
                  run_lineage, runtime)
from jobs.ingest_udf import INGEST_FIELDS, INPUT_COLUMNS, PARTIAL_ROW, RESULT_TYPE, IngestBatch
from jobs.keyed import keyed_process
from jobs.sink_rows import SINK_ROW
from riskstream.io import checkpoints, clickhouse, job_runs, kafka_admin, policy_topic, registry, topics
from riskstream.core import config, job_config
from riskstream.core.config import KafkaSettings, ServiceSettings
from riskstream.core.errors import NotAuthorized
from riskstream.core.job_config import HealthJobSettings
from riskstream.io import stack_state as state
from riskstream.io.job_runs import JobRun
from riskstream.io.triton_client import ModelInfo, model_info
from udfs import policy as policy_file, policy_log
from udfs.policy import Policy
from udfs.health import Lineage
from udfs.partials import PARTIAL_FIELDS
from udfs.windows import WindowSpec


def consumer_group(job_id: str) -> str:
    """The group the job commits its offsets to on each checkpoint (progress, not a resume point)."""
    return f"riskstream-{job_id}"


def source(t_env: StreamTableEnvironment, kafka: KafkaSettings, job: HealthJobSettings) -> str:
    """Register the raw impression records, with where they came from and event-time watermarks; returns the table.

    Watermarks are made inside the Kafka source, one per partition, from the record timestamp, which
    producers set to the impression's event time. The job's watermark is the slowest partition's, so a
    partition read behind the others (a backlog after a restart) does not make its records late, and a
    partition with no records for the idle timeout stops holding it back.
    """
    t_env.get_config().set("table.exec.source.idle-timeout", f"{job.idle_timeout_ms} ms")
    # The value and the key as bytes: decoding (either wire format) and dead letters are ours.
    with_options = kafka_tables.options(kafka.impressions_topic, kafka, consumer_group(job.job_id),
                                        job.start_offsets, job.end_offsets, job.bounded)
    return kafka_tables.create_raw_table(t_env, "impressions_raw", with_options, job.out_of_orderness_ms)


def ingest(t_env: StreamTableEnvironment, raw: str, services: ServiceSettings, job: HealthJobSettings,
           model: ModelInfo, policy: Policy):
    """Decode, score and pre-aggregate per Arrow batch (`jobs.ingest_udf`); returns (partials, dead-letter
    index, item verdicts for the label join).

    Dead letters go to the dead-letter topic, capped below the producer's request size (`DecodeSettings`)
    and zstd-compressed.
    """
    kafka = services.kafka
    batch = IngestBatch(services.triton, job.job_id, job.decode, services.registry, job.window_size_ms,
                        model.categories, policy, job.score_cache, policies=kafka,
                        verdict_memo_items=job.verdict_memo_items)
    t_env.create_temporary_function("ingest_batch", udf(batch, result_type=RESULT_TYPE, func_type="pandas"))
    fields = ", ".join(f"r.{name} AS {name}" for name, _ in INGEST_FIELDS)
    # Most rows are all NULL (their impression is in its group's partial): dropped before leaving SQL.
    ingested = t_env.sql_query(f"SELECT {fields} FROM (SELECT ingest_batch({', '.join(INPUT_COLUMNS)}) AS r "
                               f"FROM {raw}) WHERE r.window_start IS NOT NULL OR r.dead_letter IS NOT NULL "
                               f"OR r.verdict IS NOT NULL")
    # One conversion, so the UDF (and Triton) runs once per record whatever reads its result; the
    # DataStream keeps the source's watermarks, which a table made from it would not pass on.
    stream = t_env.to_data_stream(ingested)
    t_env.create_temporary_view("ingested", t_env.from_data_stream(stream))
    connection = kafka_tables.render(kafka_tables.connection(kafka))
    t_env.execute_sql(f"""
        CREATE TEMPORARY TABLE dead_letter_topic (`value` BYTES) WITH (
            'connector' = 'kafka', 'topic' = '{kafka.dead_letter_topic}',
            {connection}, 'format' = 'raw',
            'properties.compression.type' = 'zstd')""")
    # Verdicts keyed by item id: the topic is compacted, so the newest per item stays.
    t_env.execute_sql(f"""
        CREATE TEMPORARY TABLE item_verdict_topic (`key` BYTES, `value` BYTES) WITH (
            'connector' = 'kafka', 'topic' = '{kafka.item_verdicts_topic}',
            {connection}, 'key.format' = 'raw',
            'key.fields' = 'key', 'value.format' = 'raw', 'value.fields-include' = 'EXCEPT_KEY',
            'properties.compression.type' = 'zstd')""")
    statements = t_env.create_statement_set()
    statements.add_insert("dead_letter_topic", t_env.sql_query(
        "SELECT dead_letter AS `value` FROM ingested WHERE dead_letter IS NOT NULL"))
    statements.add_insert("item_verdict_topic", t_env.sql_query(
        "SELECT verdict_key AS `key`, verdict AS `value` FROM ingested WHERE verdict IS NOT NULL"))
    statements.attach_as_datastream()
    partials = stream.process(ops.RouteIngested(len(PARTIAL_FIELDS), job.label_join), output_type=PARTIAL_ROW) \
        .name("route-ingested").uid("route-ingested")
    return partials, partials.get_side_output(ops.DEAD_LETTER_INDEX), partials.get_side_output(ops.VERDICTS)


def window(partials: DataStream, job: HealthJobSettings, lineage: Lineage, kafka: KafkaSettings | None = None):
    """Event-time windows per slice, merged from the partials; returns (health rows, late-event rows)."""
    spec = WindowSpec(job.window_size_ms, job.slide_view_ms, job.allowed_lateness_ms)
    windows = keyed_process(partials.key_by(ops.slice_key, key_type=Types.STRING()),
                            ops.HealthWindows(spec, lineage, kafka), SINK_ROW) \
        .name("health-windows").uid("health-windows")
    return windows, windows.get_side_output(ops.LATE_EVENTS)


def breakers(t_env: StreamTableEnvironment, windows: DataStream, services: ServiceSettings, job: HealthJobSettings,
             model: ModelInfo, policy: Policy) -> DataStream:
    """Per-slice circuit breakers on the closed windows; transitions to the breaker-state topic, and returned
    (tagged for ClickHouse) with their evidence."""
    kafka = services.kafka
    records = keyed_process(
        windows.get_side_output(ops.BREAKER_WINDOWS).key_by(breaker_operator.breaker_key, key_type=Types.STRING()),
        breaker_operator.SliceBreakers(job.window_size_ms, kafka, policy, model.categories, job.job_id),
        breaker_operator.BREAKER_RECORD) \
        .name("breakers").uid("breakers")
    t_env.execute_sql(f"""
        CREATE TEMPORARY TABLE breaker_state_topic (`key` BYTES, `value` BYTES) WITH (
            'connector' = 'kafka', 'topic' = '{kafka.breaker_state_topic}',
            {kafka_tables.render(kafka_tables.connection(kafka))}, 'key.format' = 'raw',
            'key.fields' = 'key', 'value.format' = 'raw', 'value.fields-include' = 'EXCEPT_KEY')""")
    statements = t_env.create_statement_set()
    statements.add_insert("breaker_state_topic", t_env.from_data_stream(records))
    statements.attach_as_datastream()
    return records.get_side_output(breaker_operator.TRANSITIONS)


def labels(t_env: StreamTableEnvironment, verdicts: DataStream, services: ServiceSettings, job: HealthJobSettings,
           model: ModelInfo) -> DataStream:
    """Human labels joined to the items' verdicts (`jobs.label_join`): outcome and dead-letter index rows."""
    outcomes, index = label_join.label_outcomes(t_env, verdicts, services.kafka, services.registry, job,
                                                model.categories)
    return outcomes.union(index)


def sink(env: StreamExecutionEnvironment, rows: DataStream, services: ServiceSettings) -> None:
    insert = clickhouse_sink.ClickHouseInsert(services.clickhouse)
    clickhouse_sink.write(env, rows, insert, uid="clickhouse")


def build(env: StreamExecutionEnvironment, t_env: StreamTableEnvironment, services: ServiceSettings,
          job: HealthJobSettings, model: ModelInfo, policy: Policy) -> Lineage:
    lineage = Lineage(job.job_id, model.name, model.version, policy.version)
    raw = source(t_env, services.kafka, job)
    partials, dead_letter_index, verdicts = ingest(t_env, raw, services, job, model, policy)
    health, late = window(partials, job, lineage, services.kafka)
    transitions = breakers(t_env, health, services, job, model, policy)
    audits = policy_audit.policy_audit(t_env, services.kafka, job, model.categories)
    rows = [late, dead_letter_index, transitions, audits]
    if job.label_join:
        rows.append(labels(t_env, verdicts, services, job, model))
    sink(env, health.union(*rows), services)
    return lineage


def prepare(services: ServiceSettings, job: HealthJobSettings):
    """Fail fast on what can be checked before Flink starts: Triton's model, the registry, the policy
    file, and an embedded ClickHouse path that another process holds (the writer must own it)."""
    job = replace(job, job_id=job.job_id or f"safety-health-{uuid.uuid4().hex[:12]}")
    clickhouse.require_embedded_free(services.clickhouse)
    model = model_info(services.triton.url, services.triton.model_name)
    if services.registry is not None:
        registry.require_ready(services.registry.url)
    policy = starting_policy(services.kafka, job.policy_path, model.categories)
    return replace(job, label_start_ms=label_start(services.kafka, job)), model, policy


def label_start(kafka: KafkaSettings, job: HealthJobSettings) -> int | None:
    """Where a job without label start offsets starts reading labels: at the time of the first impression it
    reads, less the allowed lateness (a label cannot judge an item the job has not seen; older labels would
    only be rows without a score); now, when there is no impression yet. None: the offsets given decide."""
    if not job.label_join or job.label_start_offsets:
        return None
    first = kafka_admin.first_timestamp(kafka, kafka.impressions_topic, job.start_offsets)
    return (int(time.time() * 1000) if first is None else first) - job.allowed_lateness_ms


def starting_policy(kafka: KafkaSettings, path: Path, categories: tuple[str, ...]) -> Policy:
    """The policies topic's active policy; on a topic that has none, the file's, published as its first
    version. So a restart or a new run takes the policy in force from the topic, never from the file."""
    file_policy = policy_file.load(path, categories)  # checked even when the topic decides
    kafka_admin.ensure_topics(kafka, topics.named(kafka, kafka.policies_topic, kafka.forget_requests_topic))
    current = policy_log.active(policy_log.decode_all(policy_topic.read_all(kafka), kafka.policies_topic, categories))
    if current is not None:
        return current
    first = replace(file_policy, author="riskstream", reason=f"initial version, from {path.name}",
                    created_at_ms=int(time.time() * 1000))
    key, value = policy_log.encode(first, categories)
    try:
        policy_topic.append(kafka, key.encode(), value, first.created_at_ms)
    except NotAuthorized as exc:
        # Where ACLs hold, only the policy publisher writes policies: the first version is published by it.
        raise NotAuthorized(exc.address, exc.user, exc.operation, exc.resource,
                            f"{kafka.policies_topic} has no policy yet and only the policy publisher may write one: "
                            f"run `riskstream policy publish {path} --reason ...` as that user first") from exc
    return first


@dataclass(frozen=True)
class Started:
    """A submitted job: Flink's client for it, the lineage stamped on its rows, its run record, and its
    OpenLineage run (None: no lineage target configured)."""

    client: object
    lineage: Lineage
    run: JobRun
    openlineage: run_lineage.JobLineage | None = None


def start(services: ServiceSettings, job: HealthJobSettings) -> Started:
    """Submit without waiting. `riskstream job stop|drain` (or `runtime.drain(started.client, ...)`) ends it."""
    job, model, policy = prepare(services, job)
    log_file = "(PyFlink's default log folder)"
    if job.state_dir is not None and not runtime.on_cluster():  # on a cluster, Flink keeps the logs
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        log_file = str(runtime.configure_logs(job.state_dir / "logs" / "jobs", f"{job.job_id}-{stamp}-{os.getpid()}"))
    restore = checkpoints.latest(job.checkpoint_dir) if job.from_checkpoint == "latest" else job.from_checkpoint
    env, t_env, rest_url = runtime.create(
        parallelism=job.parallelism, bundle_size=job.bundle_size, bundle_time_ms=job.bundle_time_ms,
        checkpoint_dir=job.checkpoint_dir, checkpoint_interval_ms=job.checkpoint_interval_ms, restore_from=restore,
        rest_port=job.rest_port, restart_attempts=job.restart_attempts)
    lineage = build(env, t_env, services, job, model, policy)
    client = env.execute_async(lineage.job_id)
    run = JobRun(job_id=lineage.job_id, flink_job_id=str(client.get_job_id()), pid=os.getpid(),
                 rest_url=runtime.rest_url(client, rest_url),
                 log_file=log_file, checkpoint_dir=str(job.checkpoint_dir or "(the cluster's)"),
                 started_ms=int(time.time() * 1000))
    if job.state_dir is not None:
        job_runs.record(job.state_dir, run)
    tracked = None
    if job.lineage.enabled:
        from pyflink.version import __version__ as flink_version

        tracked = run_lineage.begin(services, replace(job, job_id=lineage.job_id), consumer_group(lineage.job_id),
                                    model, policy.version, restored=bool(restore), flink_job_id=run.flink_job_id,
                                    engine_version=flink_version)
        tracked.start()
    return Started(client, lineage, run, tracked)


def run(services: ServiceSettings, job: HealthJobSettings) -> Lineage:
    """Run until the input ends (bounded), or until stopped or cancelled; the run is recorded meanwhile, and
    its OpenLineage events emitted: RUNNING every --lineage-interval-s, then COMPLETE or FAIL."""
    started = start(services, job)
    print(f"job {started.run.job_id} running: Flink job {started.run.flink_job_id}, REST {started.run.rest_url}, "
          f"log {started.run.log_file}", flush=True)
    tracked = started.openlineage
    try:
        result = started.client.get_job_execution_result()
        if tracked is not None and job.lineage.interval_s:
            next_event = time.monotonic() + job.lineage.interval_s
            while not result.done():
                time.sleep(0.5)
                if time.monotonic() >= next_event and not result.done():
                    tracked.running()
                    next_event = time.monotonic() + job.lineage.interval_s
        result.result()
    except BaseException as error:
        if tracked is not None:
            tracked.fail(error)
        raise
    else:
        if tracked is not None:
            tracked.complete()
    finally:
        if tracked is not None:
            tracked.close()
        if job.state_dir is not None:
            job_runs.forget(job.state_dir, started.run)
    return started.lineage


def parse_args(argv: list[str] | None) -> tuple[ServiceSettings, HealthJobSettings]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    config.add_options(parser, config.SERVICE_OPTIONS + job_config.HEALTH_JOB_OPTIONS + (config.STATE_DIR,))
    job_config.add_run_arguments(parser)
    return settings_from(parser.parse_args(argv))


def settings_from(args: argparse.Namespace) -> tuple[ServiceSettings, HealthJobSettings]:
    state_dir = Path(args.state_dir)
    return (config.service_settings(args, state.addresses(state_dir)),
            job_config.health_job_settings(args, state_dir, on_cluster=runtime.on_cluster()))


def run_and_report(services: ServiceSettings, job: HealthJobSettings) -> int:
    print(config.describe(services))
    print(config.describe(job))
    lineage = run(services, job)
    print(f"job {lineage.job_id} finished")
    return 0


def main(argv: list[str] | None = None) -> int:
    runtime.log_project_info()
    return run_and_report(*parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
