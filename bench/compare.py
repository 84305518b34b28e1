"""The job against its peers, in one run on one backlog: events/s, ratio to the baseline, Triton's share, memory, CPU.

    .venv/bin/python -m bench.compare --events 100000 [--rounds 3] [--catalogue-items 1000000 --cache]
    .venv/bin/python -m bench.compare --scale 25000,100000,400000
    .venv/bin/python -m bench.compare --events 100000 --scoring-rows 20000   # and the ML_PREDICT scoring row


On the local stack (started if needed), one backlog of generated impressions is produced, then, interleaved
per round: the safety-health job (`python -m jobs.safety_health --bounded`) and the hand-written baseline
loop (`bench/peers/baseline.py`), each a process of its own, each first on an empty input so its start-up
is measured and subtracted (events/s = events / (t_run - t_empty)). Triton's ceiling is measured in the
same run: the backlog's captions scored directly, in batches of 4,096, one client. Peak RSS is the sum
over each process tree (Kafka and Triton apart), each process name's own peak beside it; CPU seconds are by
process, with Triton's own beside them.
Before printing, it checks that the baseline's 1-minute rows equal the job's (impressions, scored,
unsafe per window and slice): a peer that does other work is not a peer.

The job and the baseline both score every impression (the job's score cache off). `--cache` adds the job
with its item-score cache on (`job+cache`), its rows checked equal to the others', and prints the hit rate
the job itself counted. `--with-labels` adds the job with its moderation-label join on (`job+labels`), which
prices the join (every new verdict crosses into its keyed state). `--catalogue-items N` draws the backlog from an N-item catalogue with Zipf
popularity (`--zipf`), as real traffic repeats items; without it, the corpus's ~1,340 items repeat
uniformly and any cache would hit nearly always. `--scale` repeats the whole comparison per backlog size.
`--job-env NAME=VALUE[,...]` adds the job run with those environment settings (a job option's variable such as
RISKSTREAM_BUNDLE_TIME_MS, or JVM_ARGS for the job's JVM), interleaved with the others on the same backlog.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from bench import measure
from riskstream.cli.demo import local_services
from riskstream.cli.generator import Catalogue, GeneratorSettings, generate
from riskstream.cli.produce import produce
from riskstream.core import paths
from riskstream.core.config import StackSettings
from riskstream.core.job_config import format_offsets
from riskstream.io import clickhouse, kafka_admin, topics
from riskstream.io import stack_state as state
from riskstream.io.processes import job_environment
from riskstream.io.scoring import SafetyScorer
from riskstream.io.triton_client import triton_counts
from riskstream.stack import manager

SEED = 97


@dataclass
class PeerRun:
    peer: str
    job_id: str
    measured: measure.Measured
    empty: measure.Measured
    triton_cpu_s: float
    triton_items: int  # items Triton inferred during the run, by its own statistics

    def events_per_s(self, events: int) -> float:
        return events / max(self.measured.wall_s - self.empty.wall_s, 1e-9)


def _command(peer: str, job_id: str, start: dict[int, int], end: dict[int, int], stack: StackSettings,
             work: Path) -> list[str]:
    common = ["--start-offsets", format_offsets(start), "--end-offsets", format_offsets(end), "--job-id", job_id,
              "--state-dir", str(stack.state_dir)]
    if peer.startswith("job"):
        cache = [] if peer == "job+cache" else ["--score-cache-items", "0"]
        labels = ["--label-join"] if peer == "job+labels" else []
        return [sys.executable, "-m", "jobs.safety_health", "--bounded", "--checkpoint-dir", str(work / job_id),
                *cache, *labels, *common]
    return [sys.executable, "-m", "bench.peers.baseline", *common]


JOB_ENV_PEER = "job env "


def variant_env(peer: str) -> dict[str, str]:
    """The environment settings of a `--job-env` peer (`job env NAME=VALUE,NAME=VALUE`); {} for other peers."""
    if not peer.startswith(JOB_ENV_PEER):
        return {}
    settings = {}
    for item in peer[len(JOB_ENV_PEER):].split(","):
        name, equals, value = item.partition("=")
        if not equals or not name.strip():
            raise SystemExit(f"--job-env {peer[len(JOB_ENV_PEER):]!r}: {item!r} is not NAME=VALUE")
        settings[name.strip()] = value
    return settings


def _run(peer: str, start, end, stack, work: Path, triton_pid: int) -> PeerRun:
    stack_services = local_services(stack)
    job_id = f"bench-{re.sub(r'[^A-Za-z0-9]+', '-', peer)[:40].strip('-')}-{uuid.uuid4().hex[:8]}"
    environment = {**job_environment(), **variant_env(peer)}
    empty = measure.run(_command(peer, f"{job_id}-empty", start, start, stack, work), work / f"{job_id}-empty.log",
                        env=environment, cwd=paths.REPO_ROOT)
    triton_before = measure.cpu_seconds(triton_pid)
    inferred_before, _ = triton_counts(stack_services.triton.url, stack_services.triton.model_name)
    measured = measure.run(_command(peer, job_id, start, end, stack, work), work / f"{job_id}.log",
                           env=environment, cwd=paths.REPO_ROOT)
    for run, log in ((empty, f"{job_id}-empty.log"), (measured, f"{job_id}.log")):
        if run.returncode != 0:
            raise SystemExit(f"{peer} failed (exit {run.returncode}); see {work / log}")
    inferred = triton_counts(stack_services.triton.url, stack_services.triton.model_name)[0] - inferred_before
    return PeerRun(peer, job_id, measured, empty, measure.cpu_seconds(triton_pid) - triton_before, inferred)


def triton_ceiling(services, captions: list[str], batch: int = 4096) -> float:
    """Captions/s Triton scores when fed directly, in the batches the job and baseline send."""
    scorer = SafetyScorer(services.triton, max_batch=batch)
    scorer.open()
    try:
        scorer.score(captions[:batch])  # warm-up
        began = time.monotonic()
        for offset in range(0, len(captions), batch):
            if scorer.score(captions[offset:offset + batch]) is None:
                raise SystemExit("Triton failed to score a batch during the ceiling measurement")
        return len(captions) / (time.monotonic() - began)
    finally:
        scorer.close()


def cache_stats(work: Path, run: PeerRun) -> dict | None:
    """The score cache's counts the job logged at close (None: no cache, or no such line)."""
    for line in (work / f"{run.job_id}.log").read_text(errors="replace").splitlines():
        if "score cache {" in line:
            return json.loads(line[line.index("{"):])
    return None


def tumbling_rows(services, job_id: str) -> dict[tuple, tuple[int, int, int]]:
    client = clickhouse.connect(services.clickhouse, database=services.clickhouse.database)
    try:
        rows = client.query(
            "SELECT toUnixTimestamp64Milli(window_start), surface, region, recommender_model_version, item_category, "
            "impressions, scored, unsafe FROM safety_health FINAL WHERE job_id = {job:String} AND window_seconds = 60",
            parameters={"job": job_id}).result_rows
    finally:
        client.close()
    return {tuple(r[:5]): tuple(r[5:]) for r in rows}


def produce_backlog(stack: StackSettings, events: int, catalogue: Catalogue | None = None):
    """Start the local stack if needed and produce a backlog of generated impressions (the seed is fixed);
    returns (services, start offsets, end offsets, the backlog's captions)."""
    manager.up(stack)
    services = local_services(stack)
    kafka = services.kafka
    kafka_admin.ensure_topics(kafka.bootstrap_servers, topics.specs(kafka))
    generator = GeneratorSettings(seed=SEED, count=events, rate=200.0, start_ms=int(time.time() * 1000) - events * 5,
                                  catalogue=catalogue)
    start = kafka_admin.end_offsets(kafka.bootstrap_servers, kafka.impressions_topic)
    produce(kafka, generator, registry=services.registry)
    end = kafka_admin.end_offsets(kafka.bootstrap_servers, kafka.impressions_topic)
    captions = [g.record["caption"] for g in generate(generator) if g.record.get("caption")]
    return services, start, end, captions


def compare(stack: StackSettings, events: int, rounds: int, peers: tuple[str, ...], catalogue: Catalogue | None,
            work: Path) -> None:
    """One backlog, `rounds` interleaved runs of every peer, the rows check, then the table."""
    services, start, end, captions = produce_backlog(stack, events, catalogue)
    triton_pid = state.load(stack.state_dir)["triton"].pid
    ceilings, runs = [], []
    for _ in range(rounds):
        ceilings.append(triton_ceiling(services, captions))
        runs.extend(_run(peer, start, end, stack, work, triton_pid) for peer in peers)

    for round_runs in (runs[i:i + len(peers)] for i in range(0, len(runs), len(peers))):
        reference = tumbling_rows(services, round_runs[0].job_id)
        for other in round_runs[1:]:
            if tumbling_rows(services, other.job_id) != reference:
                raise SystemExit(f"rows differ: {round_runs[0].job_id} vs {other.job_id}; the peers did not do "
                                 "the same work")

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=paths.REPO_ROOT).stdout.strip()
    ceiling = statistics.median(ceilings)
    stream = (f"catalogue of {catalogue.items:,} items, Zipf {catalogue.zipf_exponent}" if catalogue
              else "the corpus's items, uniform")
    print(f"\nbench.compare --events {events} --rounds {rounds}: {time.strftime('%Y-%m-%d')}, commit {commit}, "
          f"{os.cpu_count()} CPUs; {stream}; Triton ceiling {ceiling:,.0f} captions/s (median of {len(ceilings)}); "
          f"rows of every peer equal in every round")
    print("| peer | events/s net of start-up (median, min-max) | x baseline | share of Triton ceiling | "
          "start-up s | peak RSS MiB | CPU s (by process) | Triton CPU s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    base_rate = statistics.median(r.events_per_s(events) for r in runs if r.peer == "baseline")
    for peer in peers:
        mine = [r for r in runs if r.peer == peer]
        rates = [r.events_per_s(events) for r in mine]
        rate = statistics.median(rates)
        cpu: dict[str, float] = {}
        for r in mine:
            for name, seconds in r.measured.cpu_s.items():
                cpu[name] = cpu.get(name, 0.0) + seconds / len(mine)
        cpu_text = ", ".join(f"{name} {seconds:.0f}" for name, seconds in sorted(cpu.items(), key=lambda i: -i[1])
                             if seconds >= 0.5)
        print(f"| {peer} | {rate:,.0f} ({min(rates):,.0f}-{max(rates):,.0f}) | {rate / base_rate:.2f} | "
              f"{rate / ceiling:.0%} | {statistics.median(r.empty.wall_s for r in mine):.1f} | "
              f"{max(r.measured.peak_rss_mib for r in mine):,.0f}{_peaks_by_name(mine)} | {cpu_text} | "
              f"{statistics.median(r.triton_cpu_s for r in mine):.0f} |")
    for r in (r for r in runs if r.peer == "job+cache"):
        print(f"{r.job_id}: Triton inferred {r.triton_items:,} items for {events:,} impressions "
              f"({1 - r.triton_items / events:.1%} spared)")
        stats = cache_stats(work, r)
        if stats:
            looked_up = stats["hits"] + stats["misses"]
            print(f"{r.job_id}: score cache hit rate {stats['hits'] / max(looked_up, 1):.1%} ({stats['hits']:,} of "
                  f"{looked_up:,} scored impressions), {stats['size']:,} items kept, {stats['evictions']:,} evicted")


def _peaks_by_name(runs: list[PeerRun]) -> str:
    """Each process name's own peak RSS (max over the runs), when a tree has more than one name."""
    names = {name for r in runs for name in r.measured.peak_rss_by_name_mib}
    if len(names) < 2:
        return ""
    peaks = {name: max(r.measured.peak_rss_by_name_mib.get(name, 0) for r in runs) for name in names}
    return " (" + ", ".join(f"{name} {mib:,.0f}" for name, mib in sorted(peaks.items(), key=lambda i: -i[1])
                            if mib >= 1) + ")"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--scale", help="comma-separated backlog sizes, one comparison each (instead of --events)")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved runs of every peer")
    parser.add_argument("--cache", action="store_true", help="add the job with its item-score cache on")
    parser.add_argument("--with-labels", action="store_true",
                        help="add the job with its moderation-label join on (`job+labels`), to price the join")
    parser.add_argument("--catalogue-items", type=int, default=0,
                        help="draw the backlog from a catalogue of this many items (0: the corpus's items)")
    parser.add_argument("--zipf", type=float, default=1.1, help="the catalogue's Zipf exponent")
    parser.add_argument("--job-env", action="append", default=[], metavar="NAME=VALUE[,NAME=VALUE]",
                        help="add the job run with these environment settings (e.g. RISKSTREAM_BUNDLE_TIME_MS=1000, "
                             "JVM_ARGS=-Xmx384m), score cache off as for `job`; repeatable")
    parser.add_argument("--scoring-rows", type=int, default=0,
                        help="then compare the job's scoring path with Flink's ML_PREDICT on this many captions "
                             "(bench.scoring, same Triton, same session)")
    args = parser.parse_args(argv)

    stack = StackSettings()
    catalogue = Catalogue(args.catalogue_items, args.zipf) if args.catalogue_items else None
    peers = (("job", "baseline") + (("job+cache",) if args.cache else ())
             + (("job+labels",) if args.with_labels else ()) + tuple(JOB_ENV_PEER + e for e in args.job_env))
    for peer in peers:
        variant_env(peer)  # a malformed --job-env is refused before the backlog is made
    sizes = [int(size) for size in args.scale.split(",")] if args.scale else [args.events]
    for events in sizes:
        compare(stack, events, args.rounds, peers, catalogue, stack.state_dir / "bench-compare")
    if args.scoring_rows:
        print("\nscoring paths (the job's pandas UDF against Flink's ML_PREDICT):", flush=True)
        return subprocess.run([sys.executable, "-m", "bench.scoring", "--rows", str(args.scoring_rows),
                               "--capacity", "4096", "--strategies", "pandas,ml_predict"],
                              env=job_environment(), cwd=paths.REPO_ROOT).returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
