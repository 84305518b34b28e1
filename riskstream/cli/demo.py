"""`riskstream demo` (the README's `make run`): the safety-health job end to end on the local default stack."""
from __future__ import annotations

import argparse
import time
import uuid

from riskstream.io import clickhouse, kafka_admin, topics
from riskstream.core.config import (ClickHouseSettings, KafkaSettings, RegistrySettings, ServiceSettings, StackSettings,
                                    TritonSettings)
from riskstream.core.job_config import HealthJobSettings
from riskstream.cli import demo_control, generator_args
from riskstream.cli.produce import produce, produce_faults
from riskstream.io import stack_state as state
from riskstream.stack import manager
from riskstream.cli.tables import format_table


def local_services(settings: StackSettings) -> ServiceSettings:
    """Service settings pointing at the running local stack."""
    addresses = state.addresses(settings.state_dir)
    return ServiceSettings(kafka=KafkaSettings(bootstrap_servers=addresses["kafka"]),
                           triton=TritonSettings(url=addresses["triton"]),
                           clickhouse=ClickHouseSettings(url=addresses["clickhouse"]),
                           registry=RegistrySettings(url=addresses["registry"]) if "registry" in addresses else None)


LATE, MALFORMED = 10, 5  # fault records appended after the stream

SUMMARY = {
    "rows written": """
        SELECT if(window_seconds = 60, 'tumbling 1 min', 'sliding 5 min') AS windows, count() AS rows,
               sum(impressions) AS impressions_counted, round(sum(scored) / sum(impressions), 4) AS coverage,
               round(sum(unsafe) / sum(scored), 4) AS unsafe_rate
        FROM safety_health FINAL WHERE job_id = {job:String} GROUP BY windows ORDER BY windows DESC""",
    "slices that stood out (5-min windows, surface x region, at least 100 scored)": """
        SELECT window_start, surface, region, sum(scored) AS scored_items, sum(unsafe) AS unsafe_items,
               round(sum(unsafe) / sum(scored), 4) AS unsafe_rate, round(sum(harm), 1) AS exposure_harm
        FROM safety_health FINAL WHERE job_id = {job:String} AND window_seconds = 300
        GROUP BY window_start, surface, region HAVING scored_items >= 100 ORDER BY unsafe_rate DESC LIMIT 5""",
    "late events (after their window closed, not in any aggregate)": """
        SELECT count() AS late_events FROM late_events FINAL WHERE job_id = {job:String}""",
    "dead letters (also on the dead-letter topic, raw bytes kept)": """
        SELECT error_class, count() AS records FROM dead_letters FINAL WHERE job_id = {job:String}
        GROUP BY error_class ORDER BY records DESC""",
}


def run(stack: StackSettings, args: argparse.Namespace) -> int:
    from jobs import runtime, safety_health  # imports pyflink: only when a job actually runs

    print("== local stack")
    for line in manager.up(stack):
        print("  " + line)
    services = local_services(stack)
    kafka = services.kafka
    kafka_admin.ensure_topics(kafka, topics.specs(kafka))

    start = kafka_admin.end_offsets(kafka, kafka.impressions_topic)
    generator = generator_args.settings(args)
    incidents = ", ".join(f"{i.surface}/{i.region} x{i.multiplier:g} from minute {i.start:g}"
                          + (f" to {i.end:g}" if i.end is not None else "") for i in generator.incidents)
    job = HealthJobSettings(start_offsets=start, job_id=f"demo-{uuid.uuid4().hex[:8]}",
                            checkpoint_dir=stack.state_dir / "checkpoints", checkpoint_interval_ms=5_000,
                            bounded=args.bounded, state_dir=stack.state_dir,
                            label_join=generator.labels is not None)  # the demo's labels are joined
    print(f"== producing {generator.count} impressions over {generator.count / generator.rate / 60:.0f} minutes of "
          f"event time (incident: {incidents or 'none'}), then {LATE} late and {MALFORMED} malformed records")
    if args.bounded:
        report = produce(kafka, generator, registry=services.registry)
        produce_faults(kafka, generator, late=LATE, malformed=MALFORMED, registry=services.registry)
        print(f"== running the safety-health job {job.job_id} over them (bounded) on a Flink MiniCluster")
        started = time.monotonic()
        lineage = safety_health.run(services, job)
        print(f"  finished in {time.monotonic() - started:.0f}s")
    else:
        print(f"== streaming: the job {job.job_id} runs on a Flink MiniCluster while the stream is produced "
              f"{args.speedup:g}x faster than real time")
        started_job = safety_health.start(services, job)
        client, lineage = started_job.client, started_job.lineage
        watch, mid_run = demo_control.start(stack, kafka, generator, args.speedup)  # the job seeded the policies
        try:
            report = produce(kafka, generator, realtime=True, speedup=args.speedup, registry=services.registry)
            produce_faults(kafka, generator, late=LATE, malformed=MALFORMED, registry=services.registry)
            kafka_admin.wait_committed(kafka, safety_health.consumer_group(job.job_id),
                                       kafka.impressions_topic,
                                       kafka_admin.end_offsets(kafka, kafka.impressions_topic))
            savepoint = runtime.drain(client, stack.state_dir / "savepoints")
            time.sleep(3)  # the guard reads the last breaker moves the final watermark made
        finally:
            guard_changes = watch.stop()
            mid_run.rollback()
        print(f"  drained and stopped with a final savepoint ({savepoint})")
        print(f"== the guard, as the recommender saw it (asked every second; a line per change; policy "
              f"{mid_run.published.version if mid_run.published else '(not published)'} published mid-run with a "
              f"kill switch on {mid_run.switch.surface}/{mid_run.switch.region}, rolled back at the end)")
        print("\n".join("  " + line for line in guard_changes))
    print(f"  model {lineage.model_name} v{lineage.model_version}, policy {lineage.policy_version}")

    client_ch = clickhouse.connect(services.clickhouse, database=services.clickhouse.database)
    parameters = {"job": job.job_id}
    try:
        for title, sql in SUMMARY.items():
            result = client_ch.query(sql, parameters=parameters)
            print(f"== {title}")
            print(format_table(result.column_names, result.result_rows))
        counted = client_ch.query("SELECT sum(impressions) FROM safety_health FINAL WHERE job_id = {job:String} "
                                  "AND window_seconds = 60", parameters=parameters).result_rows[0][0] or 0
        late = client_ch.query("SELECT count() FROM late_events FINAL WHERE job_id = {job:String}",
                               parameters=parameters).result_rows[0][0]
        print("== circuit breakers (transitions in event time, minutes into the stream)")
        moves = demo_control.breaker_moves(client_ch, job.job_id, generator.start_ms)
        print(format_table(["surface", "region", "recommender", "minute", "from", "to", "reason"], moves))
    finally:
        client_ch.close()
    accounted = _check_accounting(report.count + LATE, counted, late, bounded=args.bounded)
    return accounted or demo_control.check_breakers(moves, generator.incidents)


def _check_accounting(produced: int, counted: int, late: int, bounded: bool) -> int:
    """Every valid impression is in exactly one tumbling window or in late_events. Streaming, the
    on-time stream never falls behind the watermark, so exactly the injected late records are late;
    a bounded replay reads the whole backlog at once, so which records are late depends on timing."""
    if counted + late != produced:
        print(f"riskstream: error: {counted} impressions in windows + {late} late = {counted + late}, "
              f"{produced} were produced")
        return 1
    if not bounded and late != LATE:
        print(f"riskstream: error: {late} impressions counted late, {LATE} were produced late")
        return 1
    print(f"== every impression accounted for once: {counted} in windows + {late} late = {produced} produced")
    return 0
