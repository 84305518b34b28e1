"""Measure the job's policy-to-effect delay: from a publication's acknowledgement by the broker to the first
item verdict the running job writes under it.

    .venv/bin/python -m bench.policy_effect [--rounds 5] [--rate 100]

Runs on the local stack with topics of its own (impressions, policies, verdicts). The safety-health job
runs streaming while impressions are produced in real time (event time = now), so a policy published
now judges the impressions produced after it. Each round publishes a new version (alternating thresholds)
and reads the item-verdicts topic until a verdict carries it; the delay includes the job's poll of the
policies topic (before each Arrow batch), scoring the batch, and the Kafka sink's send.
"""
from __future__ import annotations

import argparse
import statistics
import threading
import time
import uuid
from dataclasses import replace

from confluent_kafka import Consumer, TopicPartition

from jobs import runtime, safety_health
from riskstream.cli import policy_store
from riskstream.cli.demo import local_services
from riskstream.cli.generator import GeneratorSettings
from riskstream.cli.produce import produce
from riskstream.core import paths, schemas
from riskstream.core.config import StackSettings
from riskstream.core.job_config import HealthJobSettings
from riskstream.io import kafka_admin, topics
from riskstream.stack import manager
from udfs import policy as policy_file
from udfs.wire import AvroDecoder, SchemaHistory


def _verdict_versions(consumer: Consumer, decoder: AvroDecoder, timeout_s: float):
    """(arrival time, policy version) of each verdict read within `timeout_s`."""
    for message in consumer.consume(num_messages=1000, timeout=timeout_s):
        if message.error() is None and message.value():
            yield time.perf_counter(), decoder.decode(message.value())["policy_version"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rate", type=float, default=100.0, help="impressions per second, produced in real time")
    args = parser.parse_args(argv)
    stack = StackSettings()
    manager.up(stack)
    services = local_services(stack)
    suffix = uuid.uuid4().hex[:8]
    kafka = replace(services.kafka, impressions_topic=f"bench-effect-impressions-{suffix}",
                    policies_topic=f"bench-effect-policies-{suffix}", item_verdicts_topic=f"bench-effect-verdicts-{suffix}",
                    dead_letter_topic=f"bench-effect-dlq-{suffix}", breaker_state_topic=f"bench-effect-breakers-{suffix}",
                    wire_format="single-object")
    services = replace(services, kafka=kafka)
    kafka_admin.ensure_topics(kafka.bootstrap_servers, topics.specs(kafka))
    base = policy_file.load(paths.REPO_ROOT / "policies" / "default.toml")

    duration_s = 60 + args.rounds * 15
    def real_time_stream() -> None:
        # Event time = the wall clock at each send: a policy published now judges what is sent after it.
        produce(kafka, GeneratorSettings(seed=5, count=int(duration_s * args.rate), rate=args.rate,
                                         start_ms=int(time.time() * 1000)), realtime=True)

    stream = threading.Thread(target=real_time_stream, daemon=True)
    started = safety_health.start(services, HealthJobSettings(job_id=f"bench-effect-{suffix}",
                                                              checkpoint_dir=stack.state_dir / "bench-effect"))
    stream.start()
    consumer = Consumer({"bootstrap.servers": kafka.bootstrap_servers, "group.id": f"bench-effect-{suffix}",
                         "enable.auto.commit": False, "fetch.wait.max.ms": 10})
    consumer.assign([TopicPartition(kafka.item_verdicts_topic, p, 0) for p in range(kafka.partitions)])
    decoder = AvroDecoder(SchemaHistory.from_folder(schemas.VERDICT_HISTORY).latest,
                          SchemaHistory.from_folder(schemas.VERDICT_HISTORY))
    delays = []
    try:
        deadline = time.monotonic() + 120
        while not list(_verdict_versions(consumer, decoder, 1.0)):  # the job is up and judging
            if time.monotonic() > deadline:
                raise SystemExit("no verdict from the job within 120 s")
        for n in range(args.rounds):
            factor = 0.6 if n % 2 == 0 else 1.0
            version = f"bench-effect-{suffix}-{n}"
            policy = replace(base, version=version, thresholds={c: t * factor for c, t in base.thresholds.items()},
                             block_thresholds={})
            policy_store.publish(kafka, policy, author="bench", reason=f"policy-to-effect round {n}")
            acknowledged = time.perf_counter()
            found = None
            while found is None and time.perf_counter() - acknowledged < 30:
                found = next((at for at, v in _verdict_versions(consumer, decoder, 0.05) if v == version), None)
            if found is None:
                raise SystemExit(f"no verdict under {version} within 30 s")
            delays.append(found - acknowledged)
            time.sleep(2)
    finally:
        consumer.close()
        runtime.drain(started.client, stack.state_dir / "bench-effect-savepoints")
    print(f"job policy-to-effect ({len(delays)} publications at {args.rate:g} impressions/s, broker ack -> first "
          f"verdict under it on the topic): median {statistics.median(delays) * 1000:.0f} ms, "
          f"max {max(delays) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
