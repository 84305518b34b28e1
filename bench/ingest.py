"""The job's ingest step on its own: what one Arrow batch costs in the pandas UDF, without Flink around it.

    .venv/bin/python -m bench.ingest --events 16384 [--rounds 3]

Produces a backlog as `bench.compare` does, reads it back with confluent-kafka, cuts it into batches of
4,096 records shaped as the job's Arrow batches (key, value, header names and values, topic, partition, offset,
timestamp), and times, per batch, in this one process: the UDF's whole call (`IngestBatch.eval`: decode,
dead letters, one Triton call, partial aggregates) and Triton's call alone on the same captions. Next to
`bench.compare`, it separates what the project's own code costs from what the Flink runtime around it adds.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import pandas as pd

from bench.compare import produce_backlog
from bench.peers.baseline import BATCH, _records
from confluent_kafka import Consumer
from jobs.ingest_udf import IngestBatch
from riskstream.core import paths
from riskstream.core.config import StackSettings
from riskstream.core.job_config import HealthJobSettings, ScoreCacheSettings
from riskstream.core.rows import Impression, KafkaRecord
from riskstream.io.triton_client import model_info
from udfs import policy as policy_file
from udfs.impressions import decode_or_reject


def arrow_batch(records: list[KafkaRecord]) -> tuple[pd.Series, ...]:
    """The UDF's arguments for these records, as PyFlink hands them over from an Arrow batch."""
    return (pd.Series([r.key for r in records], dtype="object"), pd.Series([r.value for r in records], dtype="object"),
            pd.Series([[k for k, _ in r.headers] for r in records], dtype="object"),
            pd.Series([[v for _, v in r.headers] for r in records], dtype="object"),
            pd.Series([r.topic for r in records], dtype="object"), pd.Series([r.partition for r in records]),
            pd.Series([r.offset for r in records]),
            pd.Series(pd.to_datetime([r.timestamp_ms for r in records], unit="ms", utc=True)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=16_384)
    parser.add_argument("--rounds", type=int, default=3, help="passes over the batches (the first is a warm-up)")
    args = parser.parse_args(argv)

    services, start, end, _ = produce_backlog(StackSettings(), args.events)
    consumer = Consumer({"bootstrap.servers": services.kafka.bootstrap_servers, "group.id": "bench-ingest",
                         "enable.auto.commit": False})
    try:
        records = [r for batch in _records(consumer, services.kafka.impressions_topic, start, end) for r in batch]
    finally:
        consumer.close()
    chunks = [records[i:i + BATCH] for i in range(0, len(records), BATCH)]
    batches = [arrow_batch(chunk) for chunk in chunks]

    # Cache off: every round would otherwise be served from the first one's scores.
    job = HealthJobSettings(job_id="bench-ingest", score_cache=ScoreCacheSettings(max_items=0))
    model = model_info(services.triton.url, services.triton.model_name)
    udf = IngestBatch(services.triton, job.job_id, job.decode, services.registry, job.window_size_ms,
                      model.categories, policy_file.load(job.policy_path, model.categories), job.score_cache)
    udf.open(None)
    try:
        captions = [[i.caption for i in (decode_or_reject(udf.decoder, r, job.job_id) for r in chunk)
                     if isinstance(i, Impression) and i.caption is not None] for chunk in chunks]
        whole, triton = [], []
        for round_ in range(args.rounds):
            for batch, texts in zip(batches, captions):
                began = time.perf_counter()
                udf.eval(*batch)
                middle = time.perf_counter()
                udf.scorer.score(texts)
                ended = time.perf_counter()
                if round_:
                    whole.append((middle - began) / len(batch[1]))
                    triton.append((ended - middle) / len(batch[1]))
    finally:
        udf.close()

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=paths.REPO_ROOT).stdout.strip()
    per_row, per_row_triton = statistics.median(whole), statistics.median(triton)
    print(f"bench.ingest --events {args.events} --rounds {args.rounds}: {time.strftime('%Y-%m-%d')}, commit {commit}, "
          f"{os.cpu_count()} CPUs; {len(whole)} timed batches of up to {BATCH:,} records (median per row)")
    print("| step | rows/s | µs per row |")
    print("| --- | --- | --- |")
    print(f"| ingest UDF, whole call | {1 / per_row:,.0f} | {per_row * 1e6:.0f} |")
    print(f"| Triton's call alone, same captions | {1 / per_row_triton:,.0f} | {per_row_triton * 1e6:.0f} |")
    print(f"| the rest (decode, dead letters, partials, frames) | - | {(per_row - per_row_triton) * 1e6:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
