"""The job's hand-written peer: consume -> decode -> score -> aggregate -> insert, one process, no Flink.

    .venv/bin/python -m bench.peers.baseline --start-offsets 0:0,1:0,2:0 --end-offsets 0:100,1:90,2:95 --job-id b1

What a careful engineer writes without a stream processor: confluent-kafka reads a backlog from start to
end offsets, the project's decoder (both wire formats) turns records into impressions, Triton scores them in
batches of 4,096, the project's window accumulator sums 1-minute windows per slice, and clickhouse-connect
inserts every window at the end. No checkpoints, watermarks, lateness or sliding view: it is the floor the
job's throughput is measured against (bench.compare), and its rows must equal the job's tumbling rows.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from riskstream.core import config, job_config
from riskstream.core.errors import DecodeError
from riskstream.core.rows import Impression, KafkaRecord
from riskstream.io import clickhouse
from riskstream.io import stack_state as state
from riskstream.io.registry import Registry
from riskstream.io.scoring import SafetyScorer
from riskstream.cli import policy_store
from udfs import policy as policy_file
from udfs.health import HEALTH_COLUMNS, Lineage, WindowAccumulator, health_row
from udfs.impressions import ImpressionDecoder

WINDOW_MS = 60_000
BATCH = 4096


def _records(consumer: Consumer, topic: str, start: dict[int, int], end: dict[int, int]):
    """Every record in [start, end) per partition, in batches as the consumer returns them."""
    remaining = {p for p in end if end[p] > start.get(p, 0)}
    consumer.assign([TopicPartition(topic, p, start.get(p, 0)) for p in remaining])
    while remaining:
        batch = []
        for message in consumer.consume(num_messages=BATCH, timeout=1.0):
            if message.error():
                continue
            partition, offset = message.partition(), message.offset()
            if partition not in remaining or offset >= end[partition]:
                continue
            if offset == end[partition] - 1:
                remaining.discard(partition)
            batch.append(KafkaRecord(value=message.value(), key=message.key(), headers=tuple(message.headers() or ()),
                                     topic=message.topic(), partition=partition, offset=offset,
                                     timestamp_ms=message.timestamp()[1]))
        yield batch


def run(services: config.ServiceSettings, start: dict[int, int], end: dict[int, int], job_id: str,
        policy_path: Path) -> dict:
    registry = Registry(services.registry) if services.registry else None
    decoder = ImpressionDecoder(job_config.DecodeSettings(), registry.schema_by_id if registry else None)
    scorer = SafetyScorer(services.triton, max_batch=BATCH)
    scorer.open()
    model = scorer.model
    # The job judges by the policies topic's active policy (the file's only on a topic with none): so does its peer.
    policy = policy_store.active(policy_store.history(services.kafka, model.categories)) or \
        policy_file.load(policy_path, model.categories)
    windows: dict[tuple, WindowAccumulator] = {}
    counts = {"events": 0, "dead_letters": 0}
    consumer = Consumer({"bootstrap.servers": services.kafka.bootstrap_servers, "group.id": f"bench-{job_id}",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    pending: list[Impression] = []

    def score_pending() -> None:
        captions = [i.caption for i in pending]
        present = [c for c in captions if c]
        scores = scorer.score(present) if present else None
        rows = iter(scores.tolist()) if scores is not None else None
        for impression in pending:
            item_scores = next(rows) if (rows is not None and impression.caption) else None
            dims = (impression.surface, impression.region, impression.recommender_model_version,
                    impression.item_category)
            key = (impression.event_time - impression.event_time % WINDOW_MS, dims)
            accumulator = windows.get(key)
            if accumulator is None:
                accumulator = windows[key] = WindowAccumulator()
            accumulator.add(impression.item_id, impression.creator_id, impression.source_partition,
                            impression.source_offset, item_scores, model.categories, policy, impression.event_time,
                            impression.viewer_cohort, impression.creator_cohort)
        pending.clear()

    try:
        for batch in _records(consumer, services.kafka.impressions_topic, start, end):
            for record in batch:
                counts["events"] += 1
                try:
                    pending.append(decoder.decode(record))
                except DecodeError:
                    counts["dead_letters"] += 1
            if len(pending) >= BATCH or not batch:
                score_pending()
        score_pending()
    finally:
        consumer.close()
        scorer.close()
        if registry:
            registry.close()
    lineage = Lineage(job_id, model.name, model.version, policy.version)
    rows = [health_row(start_ms, WINDOW_MS, dims, acc, lineage) for (start_ms, dims), acc in sorted(windows.items())]
    client = clickhouse.connect(services.clickhouse, database=services.clickhouse.database)
    try:
        client.insert("safety_health", rows, column_names=list(HEALTH_COLUMNS))
    finally:
        client.close()
    return {**counts, "rows": len(rows)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    config.add_options(parser, config.SERVICE_OPTIONS + (config.STATE_DIR, job_config.POLICY))
    parser.add_argument("--start-offsets", required=True, help="partition:offset[,...] to start from")
    parser.add_argument("--end-offsets", required=True, help="partition:offset[,...] to stop before")
    parser.add_argument("--job-id", required=True, help="job id its rows are written under")
    args = parser.parse_args(argv)
    services = config.service_settings(args, state.addresses(Path(args.state_dir)))
    began = time.monotonic()
    result = run(services, job_config.parse_offsets(args.start_offsets), job_config.parse_offsets(args.end_offsets),
                 args.job_id, Path(args.policy))
    print(f"baseline {args.job_id}: {result['events']} events, {result['dead_letters']} dead letters, "
          f"{result['rows']} rows in {time.monotonic() - began:.1f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
