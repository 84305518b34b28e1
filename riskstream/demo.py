"""`riskstream demo` (the README's `make run`): the main pipeline end to end on the local default stack."""
from __future__ import annotations

import argparse
import time

from riskstream import clickhouse, kafka_admin, topics
from riskstream.config import ClickHouseSettings, KafkaSettings, ServiceSettings, StackSettings, TritonSettings
from riskstream.produce import produce
from riskstream.stack import manager, state


def local_services(settings: StackSettings) -> ServiceSettings:
    """Service settings pointing at the running local stack."""
    addresses = state.addresses(settings.state_dir)
    return ServiceSettings(kafka=KafkaSettings(bootstrap_servers=addresses["kafka"]),
                           triton=TritonSettings(url=addresses["triton"]),
                           clickhouse=ClickHouseSettings(url=addresses["clickhouse"]))


def format_table(header: list[str], rows: list[tuple]) -> str:
    cells = [header] + [[str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells)


def run(stack: StackSettings, args: argparse.Namespace) -> int:
    from jobs import smoke  # imports pyflink: only when a job actually runs
    from riskstream.cli import generator_settings

    print("== local stack")
    for line in manager.up(stack):
        print("  " + line)
    services = local_services(stack)
    kafka_admin.ensure_topics(services.kafka.bootstrap_servers, topics.specs(services.kafka))

    start_offsets = kafka_admin.end_offsets(services.kafka.bootstrap_servers, services.kafka.impressions_topic)
    generator = generator_settings(args)
    print(f"== producing {generator.count} impressions (seed {generator.seed}, incidents: "
          f"{', '.join(map(str, generator.incidents)) or 'none'})")
    report = produce(services.kafka, generator)
    print(f"  {report.count} impressions, {report.unsafe} with unsafe captions, in {report.seconds:.1f}s")

    print("== running the smoke job on a Flink MiniCluster (Kafka -> Triton -> ClickHouse)")
    started = time.monotonic()
    lineage = smoke.run(services, start_offsets)
    print(f"  job {lineage.job_id} finished in {time.monotonic() - started:.1f}s, "
          f"model {lineage.model_name} version {lineage.model_version}")

    client = clickhouse.connect(services.clickhouse, database=services.clickhouse.database)
    try:
        result = client.query(
            "SELECT window_start, surface, impressions, scored, unsafe, round(unsafe / scored, 4) AS unsafe_rate "
            "FROM smoke_minute_counts FINAL WHERE job_id = {job:String} ORDER BY window_start, surface",
            parameters={"job": lineage.job_id})
    finally:
        client.close()
    print(f"== rows in ClickHouse table smoke_minute_counts ({services.clickhouse.url})")
    print(format_table(result.column_names, result.result_rows))
    total = sum(row[2] for row in result.result_rows)
    print(f"== {len(result.result_rows)} rows, {total} impressions counted of {report.count} produced")
    return 0 if total == report.count else 1
