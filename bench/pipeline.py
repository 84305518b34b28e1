"""Measure the safety-health job on this machine: throughput, scoring batch size, end-to-end latency.

    .venv/bin/python -m bench.pipeline [--events 20000] [--latency-seconds 60] [--bundle-time-ms 1000]
                                       [--latency-rate 200 | --latency-share 0.5]

Runs on the local stack (started if needed). Throughput is net of job start-up: the same bounded job
runs on an empty input first (the baseline, same session), and events/s = events / (t_full - t_empty).
The scoring batch size is what Triton executed (its statistics: inferences / executions).
Latency is measured with events produced in real time into 5-second windows: for each row,
visible-in-ClickHouse time minus window end (so it includes the 1-second out-of-orderness wait).
`--latency-share 0.5` produces at half the throughput just measured (latency at load), instead of a
fixed `--latency-rate`; the rate the producer achieved is printed beside the one asked for.
"""
from __future__ import annotations

import argparse
import statistics
import time
import uuid


from jobs import runtime, safety_health
from riskstream.io import clickhouse, kafka_admin, topics
from riskstream.core.config import StackSettings
from riskstream.core.job_config import HealthJobSettings
from riskstream.cli.demo import local_services
from riskstream.cli.generator import GeneratorSettings
from riskstream.cli.produce import produce
from riskstream.io.triton_client import triton_counts
from riskstream.stack import manager


def _bounded_run(services, stack, end_offsets: dict[int, int], start_offsets: dict[int, int],
                 bundle_time_ms: int) -> float:
    job = HealthJobSettings(start_offsets=start_offsets, end_offsets=end_offsets, bounded=True,
                            bundle_time_ms=bundle_time_ms, job_id=f"bench-{uuid.uuid4().hex[:8]}",
                            checkpoint_dir=stack.state_dir / "bench-checkpoints")
    started = time.monotonic()
    safety_health.run(services, job)
    return time.monotonic() - started


def throughput(services, stack, events: int, bundle_time_ms: int) -> dict:
    kafka = services.kafka
    start = kafka_admin.end_offsets(kafka.bootstrap_servers, kafka.impressions_topic)
    empty = _bounded_run(services, stack, start, start, bundle_time_ms)
    produce(kafka, GeneratorSettings(seed=99, count=events, rate=200.0, start_ms=int(time.time() * 1000) - events * 5),
            registry=services.registry)
    end = kafka_admin.end_offsets(kafka.bootstrap_servers, kafka.impressions_topic)
    before = triton_counts(services.triton.url, services.triton.model_name)
    full = _bounded_run(services, stack, end, start, bundle_time_ms)
    after = triton_counts(services.triton.url, services.triton.model_name)
    inferences, executions = after[0] - before[0], after[1] - before[1]
    return {"events": events, "empty_run_s": empty, "full_run_s": full,
            "events_per_s": events / max(full - empty, 1e-9),
            "triton_items": inferences, "triton_executions": executions,
            "mean_batch": inferences / max(executions, 1)}


def latency(services, stack, seconds: int, rate: float, bundle_time_ms: int) -> dict:
    kafka = services.kafka
    start = kafka_admin.end_offsets(kafka.bootstrap_servers, kafka.impressions_topic)
    job = HealthJobSettings(start_offsets=start, job_id=f"bench-latency-{uuid.uuid4().hex[:8]}",
                            window_size_ms=5_000, slide_view_ms=5_000, allowed_lateness_ms=5_000,
                            out_of_orderness_ms=1_000, checkpoint_interval_ms=5_000, bundle_time_ms=bundle_time_ms,
                            checkpoint_dir=stack.state_dir / "bench-checkpoints")
    client = safety_health.start(services, job).client
    time.sleep(15)  # let the MiniCluster and Python workers come up before the clock starts
    began_ms = int(time.time() * 1000)
    produce(kafka, GeneratorSettings(seed=98, count=int(seconds * rate), rate=rate, start_ms=began_ms), realtime=True,
            registry=services.registry)
    ended_ms = int(time.time() * 1000)
    time.sleep(5)
    runtime.drain(client, stack.state_dir / "savepoints")
    ch = clickhouse.connect(services.clickhouse, database=services.clickhouse.database)
    try:
        rows = ch.query("SELECT toUnixTimestamp64Milli(written_at) - toUnixTimestamp64Milli(window_end) AS lag "
                        "FROM safety_health WHERE job_id = {job:String} AND window_seconds = 5 "
                        "AND toUnixTimestamp64Milli(window_end) <= {last:Int64}",
                        parameters={"job": job.job_id, "last": ended_ms - 2_000}).result_rows
    finally:
        ch.close()
    lags = sorted(r[0] for r in rows)
    quantiles = statistics.quantiles(lags, n=100, method="inclusive")
    span_s = (ended_ms - began_ms) / 1000
    return {"rows": len(lags), "p50_ms": quantiles[49], "p99_ms": quantiles[98], "span_s": span_s,
            "achieved_rate": int(seconds * rate) / max(span_s, 1e-9)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--latency-seconds", type=int, default=30)
    load = parser.add_mutually_exclusive_group()
    load.add_argument("--latency-rate", type=float, default=200.0, help="events/s produced for the latency run")
    load.add_argument("--latency-share", type=float, default=None,
                      help="produce at this share of the throughput just measured instead (e.g. 0.5)")
    parser.add_argument("--skip-latency", action="store_true", help="measure throughput and batch size only")
    parser.add_argument("--bundle-time-ms", type=int, default=HealthJobSettings.bundle_time_ms,
                        help="the job's Python bundle interval (Flink's own default is 1000)")
    args = parser.parse_args(argv)
    stack = StackSettings()
    manager.up(stack)
    services = local_services(stack)
    kafka_admin.ensure_topics(services.kafka.bootstrap_servers, topics.specs(services.kafka))

    t = throughput(services, stack, args.events, args.bundle_time_ms)
    net = (f"{t['events_per_s']:.0f} events/s net of start-up" if t["full_run_s"] > t["empty_run_s"] else
           "no rate: the run was not longer than start-up varies; use more --events")
    print(f"throughput: {t['events']} events in {t['full_run_s']:.1f}s, empty-input baseline {t['empty_run_s']:.1f}s "
          f"-> {net}")
    print(f"scoring: {t['triton_items']} items in {t['triton_executions']} Triton executions "
          f"-> mean batch {t['mean_batch']:.0f} (Arrow batch limit 4096)")
    if args.skip_latency:
        return 0
    rate = args.latency_rate
    if args.latency_share is not None:
        if t["full_run_s"] <= t["empty_run_s"]:
            parser.error("--latency-share needs a measured throughput: use more --events")
        rate = args.latency_share * t["events_per_s"]
    lat = latency(services, stack, args.latency_seconds, rate, args.bundle_time_ms)
    print(f"latency (window end -> row in ClickHouse, 5 s windows, {rate:.0f} events/s asked, "
          f"{lat['achieved_rate']:.0f} produced, for {lat['span_s']:.0f}s): p50 {lat['p50_ms'] / 1000:.2f}s, "
          f"p99 {lat['p99_ms'] / 1000:.2f}s over {lat['rows']} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
