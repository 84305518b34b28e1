"""Test-side streams for the job tests: generated impressions sent to Kafka, and the counts they must give."""
from __future__ import annotations

import dataclasses
import os
import time
import uuid
from collections import Counter

from jobs import safety_health
from riskstream.cli.generator import GeneratorSettings, generate
from riskstream.core.job_config import HealthJobSettings
from riskstream.core import schemas
from riskstream.io import kafka_admin, topics
from tests.e2e import kafka_io, store
from udfs.wire import Encoder, SchemaHistory, WireFormat

CODEC = Encoder(SchemaHistory.from_folder(schemas.IMPRESSION_HISTORY).latest, WireFormat.SINGLE_OBJECT)
MINUTE = 60_000


def records(seed: int, count: int, start_ms: int, rate: float = 5.0) -> list[dict]:
    return [g.record for g in generate(GeneratorSettings(seed=seed, count=count, rate=rate, start_ms=start_ms))]


def send(services, records: list[dict], partition: int | None = None) -> list[tuple[int, int]]:
    return kafka_io.send(services.kafka.bootstrap_servers, services.kafka.impressions_topic,
                         [(r["user_id_hash"].encode(), CODEC.encode(r), r["event_time"]) for r in records], partition)


def offsets(services) -> dict[int, int]:
    kafka_admin.ensure_topics(services.kafka.bootstrap_servers, topics.specs(services.kafka))
    return kafka_admin.end_offsets(services.kafka.bootstrap_servers, services.kafka.impressions_topic)




def tumbling_counts(services, job_id: str) -> Counter:
    rows = store.query(services, "SELECT toUnixTimestamp64Milli(window_start) AS start, surface, region, "
                            "recommender_model_version AS version, item_category AS category, impressions "
                            "FROM safety_health FINAL WHERE job_id = {job:String} AND window_seconds = 60", job=job_id)
    return Counter({(r["start"], r["surface"], r["region"], r["version"], r["category"]): r["impressions"] for r in rows})


def expected_counts(records: list[dict]) -> Counter:
    return Counter((r["event_time"] - r["event_time"] % MINUTE, r["surface"], r["region"],
                    r["recommender_model_version"], r["item_category"]) for r in records)


def wait_processed(services, job_id: str) -> None:
    kafka_admin.wait_committed(services.kafka.bootstrap_servers, safety_health.consumer_group(job_id),
                               services.kafka.impressions_topic, offsets(services))


def wait_group_gone(pgid: int, timeout_s: float = 30.0) -> None:
    """Until every process of the killed job (JVM, Python workers) is gone and has let go of chDB."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    raise AssertionError(f"processes of group {pgid} still alive after SIGKILL")


def own_topics(services, prefix: str, *fields: str):
    """`services` with a new topic of its own for each named KafkaSettings field (`<prefix>-<field>-<suffix>`),
    created; and the suffix, for names that go with them."""
    suffix = uuid.uuid4().hex[:8]
    names = {field: f"{prefix}-{field.removesuffix('_topic').replace('_', '-')}-{suffix}" for field in fields}
    kafka = dataclasses.replace(services.kafka, **names)
    kafka_admin.ensure_topics(kafka.bootstrap_servers, topics.specs(kafka))
    return dataclasses.replace(services, kafka=kafka), suffix


def start_from_first_offsets(services, job_id: str, checkpoint_dir):
    """The job, unbounded, from every partition's first offset, checkpointing every second (what a test waits on)."""
    return safety_health.start(services, HealthJobSettings(
        start_offsets={p: 0 for p in range(services.kafka.partitions)}, job_id=job_id, checkpoint_dir=checkpoint_dir,
        checkpoint_interval_ms=1_000))
