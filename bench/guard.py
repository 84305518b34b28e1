"""Measure the guard: decision latency at a fixed request rate, and how soon a published policy takes effect.

    .venv/bin/python -m bench.guard [--rate 2000] [--candidates 100] [--seconds 20] [--items 100000]
                                    [--sender vegeta|aiohttp]

Runs on the local stack's Kafka (started if needed) with topics of its own: `--items` verdicts (a mix of
allow, demote and block) and breaker records for a few slices, then a guard process (`riskstream guard
serve`) reading them. Load is open-loop: requests are sent on a fixed schedule, whatever the answers do,
and each latency counts from the moment its request was due (so a stalled server, or a sender that fell
behind, shows rather than slowing the schedule). The sender is vegeta (`make setup` installs the pinned
version), a compiled constant-rate HTTP load generator whose requests run on every core. The other sender,
`--sender aiohttp`, is one Python event loop: it uses as much CPU, but each answer waits in its loop behind
the sends and the other answers, and its pauses put it up to ~100 ms behind its own schedule, which becomes
the measured tail. Candidates are drawn from the known items plus 10% unknown ids. The first two seconds warm
up and are not counted. Policy-to-effect: a policy is published (acknowledged by the broker) and the guard is
asked every 5 ms until its answers carry that version; repeated `--policy-rounds` times.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import csv
import json
import os
import random
import resource
import statistics
import sys
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import aiohttp
import orjson
import requests
import uvloop

from bench.measure import cpu_seconds
from riskstream.cli import policy_store
from riskstream.cli.demo import local_services
from riskstream.core import schemas
from riskstream.core import paths
from riskstream.core.config import KafkaSettings, StackSettings
from riskstream.core.errors import MissingTool
from riskstream.io import kafka_admin, processes, topics
from riskstream.stack import guard, manager, process
from udfs.policy import KillSwitch, Policy
from udfs.wire import Encoder, SchemaHistory, WireFormat

SURFACES = ("shorts", "feed", "search")
REGIONS = ("br", "us", "in", "de")
WARM_UP_S = 2.0
JSON = {"content-type": "application/json"}
VEGETA = paths.CACHE_DIR / "bin" / "vegeta"


def _fill(kafka: KafkaSettings, items: int, seed: int) -> list[str]:
    """Write the verdicts and breaker records; returns the item ids."""
    from confluent_kafka import Producer

    rng = random.Random(seed)
    producer = Producer({"bootstrap.servers": kafka.bootstrap_servers, "linger.ms": 20, "compression.type": "zstd"})
    verdicts = Encoder(SchemaHistory.from_folder(schemas.VERDICT_HISTORY).latest, WireFormat.SINGLE_OBJECT)
    ids = [f"bench-item-{n}" for n in range(items)]
    for n, item in enumerate(ids):
        action = rng.choices(("allow", "demote", "block"), (0.88, 0.1, 0.02))[0]
        producer.produce(kafka.item_verdicts_topic, key=item.encode(), value=verdicts.encode({
            "item_id": item, "action": action, "reason": f"bench {action}", "top_category": "spam",
            "top_score": 0.5, "unsafe_categories": [] if action == "allow" else ["spam"], "item_category": "news",
            "policy_version": "bench", "model_name": "safety_text", "model_version": "1", "event_time": 0,
            "source_partition": 0, "source_offset": n, "job_id": "bench"}))
        if n % 10_000 == 0:
            producer.poll(0)
    breakers = Encoder(SchemaHistory.from_folder(schemas.BREAKER_HISTORY).latest, WireFormat.SINGLE_OBJECT)
    for surface in SURFACES:
        for region in REGIONS:
            state = rng.choice(("closed", "open", "half_open"))
            producer.produce(kafka.breaker_state_topic, key=f"{surface}/{region}".encode(), value=breakers.encode({
                "surface": surface, "region": region, "recommender_model_version": "r1", "state": state,
                "from_state": "closed", "window_start": 0, "window_end": 60_000, "scored": 100, "unsafe": 20,
                "rate": 0.2, "baseline_rate": 0.1, "z": 4.5, "reason": "bench", "policy_version": "bench",
                "job_id": "bench"}))
    producer.flush(60)
    return ids


def _bodies(ids: list[str], candidates: int, seed: int) -> list[bytes]:
    """512 request bodies, built before the run so that building them costs the sender nothing during it."""
    rng = random.Random(seed)
    bodies = []
    for _ in range(512):
        picked = [rng.choice(ids) if rng.random() > 0.1 else f"unknown-{rng.randrange(10**9)}"
                  for _ in range(candidates)]
        bodies.append(orjson.dumps({"surface": rng.choice(SURFACES), "region": rng.choice(REGIONS),
                                    "recommender_model_version": "r1", "items": picked}))
    return bodies


def from_due(rows: Iterable[list[str]], rate: float, warm_up: int) -> tuple[list[float], list[float], int, int]:
    """(latencies, lateness, sent, errors) from vegeta's CSV results, in ms, requests before `warm_up` left out.

    vegeta's constant pacer makes request `seq` due at the attack's start + seq / rate and stamps each result
    with the moment its request actually began (columns: timestamp ns, status, latency ns, ..., seq at 9).
    The attack's start is taken as the first request's begin. A latency counts from the due moment, so a
    sender that fell behind its schedule adds to the latency instead of hiding it."""
    results = sorted((int(row[8]), int(row[0]), int(row[2]), row[1]) for row in rows)
    if not results:
        return [], [], 0, 0
    began = results[0][1]
    latencies, lateness, errors = [], [], 0
    for seq, stamp, latency, status in results:
        if status != "200":
            errors += 1
        if seq < warm_up:
            continue
        behind = max(0.0, (stamp - began) / 1e6 - seq * 1000 / rate)
        lateness.append(behind)
        latencies.append(behind + latency / 1e6)
    return latencies, lateness, len(results), errors


def _vegeta(address: str, bodies: list[bytes], folder: Path, rate: float, seconds: float,
            connections: int) -> "Load":
    if not VEGETA.exists():
        raise MissingTool(f"vegeta is not at {VEGETA}: `make setup` installs the pinned version")
    targets = folder / "targets.jsonl"
    with targets.open("w") as out:
        for body in bodies:
            out.write(json.dumps({"method": "POST", "url": f"{address}/v1/decide",
                                  "body": base64.b64encode(body).decode(),
                                  "header": {"Content-Type": ["application/json"]}}) + "\n")
    results = folder / "results.bin"
    with results.open("wb") as out:
        subprocess.run([str(VEGETA), "attack", "-format=json", f"-targets={targets}", f"-rate={rate:g}/s",
                        f"-duration={(seconds + WARM_UP_S):g}s", "-max-body=0", f"-max-connections={connections}",
                        "-timeout=10s"], stdout=out, check=True)
    encoded = subprocess.run([str(VEGETA), "encode", "--to", "csv", str(results)], capture_output=True, text=True,
                             check=True).stdout
    latencies, lateness, sent, errors = from_due(csv.reader(encoded.splitlines()), rate, int(WARM_UP_S * rate))
    return Load(latencies, lateness, sent, errors)


async def _aiohttp(address: str, bodies: list[bytes], rate: float, seconds: float, connections: int) -> "Load":
    latencies: list[float] = []
    lateness: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def one(body: bytes, due: float, counted: bool) -> None:
            nonlocal errors
            if counted:
                lateness.append((time.perf_counter() - due) * 1000)
            try:
                async with session.post(f"{address}/v1/decide", data=body, headers=JSON) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
            except aiohttp.ClientError:
                errors += 1
            if counted:
                latencies.append((time.perf_counter() - due) * 1000)

        total = int((seconds + WARM_UP_S) * rate)
        start = time.perf_counter()
        tasks = []
        for n in range(total):
            due = start + n / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(bodies[n % len(bodies)], due, n >= WARM_UP_S * rate)))
        await asyncio.gather(*tasks)
    return Load(latencies, lateness, total, errors)


@dataclass
class Load:
    latencies: list[float]  # ms from when each counted request was due to its answer
    lateness: list[float]  # ms the sender itself was behind schedule (the machine, not the server)
    sent: int
    errors: int
    server_cpu_share: float = 0.0
    sender_cpu_share: float = 0.0

    def line(self) -> str:
        p = self.latencies
        behind = self.lateness
        return (f"p50 {_percentile(p, 0.5):.2f} ms, p99 {_percentile(p, 0.99):.2f} ms, "
                f"p99.9 {_percentile(p, 0.999):.2f} ms, max {max(p):.2f} ms; {self.errors} errors of {self.sent}; "
                f"server CPU {self.server_cpu_share:.0%} of a core, sender CPU {self.sender_cpu_share:.0%}; "
                f"sender behind schedule p99 {_percentile(behind, 0.99):.2f} ms, max {max(behind):.0f} ms")


def _measure(pid: int, address: str, ids: list[str], folder: Path, args: argparse.Namespace) -> Load:
    bodies = _bodies(ids, args.candidates, args.seed)
    before, sender_before = cpu_seconds(pid), _sender_cpu_seconds()
    if args.sender == "vegeta":
        load = _vegeta(address, bodies, folder, args.rate, args.seconds, args.connections)
    else:
        load = uvloop.run(_aiohttp(address, bodies, args.rate, args.seconds, args.connections))
    load.server_cpu_share = (cpu_seconds(pid) - before) / (args.seconds + WARM_UP_S)
    load.sender_cpu_share = (_sender_cpu_seconds() - sender_before) / (args.seconds + WARM_UP_S)
    return load


def _sender_cpu_seconds() -> float:
    """CPU seconds of this process and of its finished children (vegeta's run, once it has ended)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _floor(address: str, folder: Path, ids: list[str], args: argparse.Namespace) -> Load:
    """The same load on the HTTP floor (bench/peers/http_floor.py) answering one real guard answer."""
    answer = folder / "answer.json"
    answer.write_bytes(requests.post(f"{address}/v1/decide", data=orjson.dumps({
        "surface": "shorts", "region": "br", "recommender_model_version": "r1", "items": ids[:args.candidates]}),
        headers=JSON, timeout=5).content)
    port = processes.free_port()
    pid = process.spawn([sys.executable, "-m", "uvicorn", "bench.peers.http_floor:app", "--port", str(port),
                         "--loop", "uvloop", "--http", "httptools", "--log-level", "warning", "--no-access-log"],
                        folder / "floor.log", env={**os.environ, "RISKSTREAM_BENCH_FLOOR_ANSWER": str(answer)})
    floor = f"http://127.0.0.1:{port}"
    process.wait_ready("HTTP floor", pid, folder / "floor.log", lambda: _answers(floor), timeout_s=30)
    try:
        return _measure(pid, floor, ids, folder, args)
    finally:
        process.terminate(pid)


def _answers(address: str) -> bool:
    try:
        return requests.post(f"{address}/v1/decide", data=b"{}", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _policy_to_effect(kafka: KafkaSettings, address: str, rounds: int) -> list[float]:
    """Seconds from a publication's acknowledgement to the guard's first answer under it."""
    delays = []
    session = requests.Session()
    body = {"surface": "shorts", "region": "br", "items": ["bench-item-0"]}
    for n in range(rounds):
        version = f"bench-{uuid.uuid4().hex[:8]}"
        policy = Policy(version, {"spam": 0.5}, kill_switches=(KillSwitch(surface="feed", category="spam"),))
        policy_store.publish(kafka, policy, author="bench", reason=f"policy-to-effect round {n}")
        acknowledged = time.perf_counter()
        while session.post(f"{address}/v1/decide", json=body, timeout=5).json()["policy_version"] != version:
            time.sleep(0.005)
        delays.append(time.perf_counter() - acknowledged)
    return delays


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 1000) - 1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=2000.0, help="requests per second (open loop)")
    parser.add_argument("--candidates", type=int, default=100, help="candidate items per request")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds, after a 2 s warm-up")
    parser.add_argument("--items", type=int, default=100_000, help="items with a verdict in the guard's view")
    parser.add_argument("--connections", type=int, default=64, help="client keep-alive connections")
    parser.add_argument("--sender", choices=("vegeta", "aiohttp"), default="vegeta",
                        help="the load generator: vegeta (compiled, the default) or a Python asyncio sender")
    parser.add_argument("--policy-rounds", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    stack = StackSettings()
    manager.up(stack)
    suffix = uuid.uuid4().hex[:8]
    base = local_services(stack).kafka
    kafka = KafkaSettings(bootstrap_servers=base.bootstrap_servers, item_verdicts_topic=f"bench-verdicts-{suffix}",
                          breaker_state_topic=f"bench-breakers-{suffix}", policies_topic=f"bench-policies-{suffix}")
    kafka_admin.ensure_topics(kafka, topics.guard_topics(kafka))
    ids = _fill(kafka, args.items, args.seed)
    folder = Path(tempfile.mkdtemp(prefix="bench-guard-"))
    restore_began = time.perf_counter()
    pid, address = guard.spawn(kafka.bootstrap_servers, processes.free_port(), folder / "guard.log", (
        "--item-verdicts-topic", kafka.item_verdicts_topic, "--breaker-state-topic", kafka.breaker_state_topic,
        "--policies-topic", kafka.policies_topic))
    restore_s = time.perf_counter() - restore_began
    try:
        load = _measure(pid, address, ids, folder, args)
        floor = _floor(address, folder, ids, args)
        delays = _policy_to_effect(kafka, address, args.policy_rounds)
    finally:
        process.terminate(pid)
    print(f"guard: {args.items} items restored and ready in {restore_s:.1f} s (process start included)")
    print(f"load: {len(load.latencies)} requests of {args.candidates} candidates at {args.rate:g}/s for "
          f"{args.seconds:g} s, open loop, {args.connections} connections, sent by {args.sender}")
    print(f"guard decide: {load.line()}")
    print(f"HTTP floor (same server stack, fixed answer): {floor.line()}")
    print(f"guard / floor: p50 {_percentile(load.latencies, 0.5) / _percentile(floor.latencies, 0.5):.2f}x, "
          f"p99 {_percentile(load.latencies, 0.99) / _percentile(floor.latencies, 0.99):.2f}x")
    print(f"policy-to-effect ({len(delays)} publications, broker ack -> first answer under it): "
          f"median {statistics.median(delays) * 1000:.0f} ms, max {max(delays) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
