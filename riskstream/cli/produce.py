"""`riskstream produce`: write generated impressions to Kafka as Avro, paced or as fast as possible."""
from __future__ import annotations

import heapq
import json
import time
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Producer
from fastavro.schema import parse_schema

from riskstream.io import kafka_admin, kafka_clients
from riskstream.core import schemas
from riskstream.core.config import KafkaSettings, RegistrySettings
from riskstream.core.errors import ConfigError, RiskstreamError
from riskstream.io.registry import Registry
from riskstream.cli.generator import GeneratorSettings, generate
from udfs.wire import Encoder, WireFormat


@dataclass(frozen=True)
class ProduceReport:
    count: int
    unsafe: int
    first_event_ms: int
    last_event_ms: int
    seconds: float
    labels: int = 0


def impression_encoder(kafka: KafkaSettings, registry: RegistrySettings | None) -> Encoder:
    """Impressions in the topic's wire format with the newest checked-in schema version."""
    return record_encoder(kafka, registry, schemas.IMPRESSION_HISTORY, registry.subject if registry else "")


def label_encoder(kafka: KafkaSettings, registry: RegistrySettings | None) -> Encoder:
    """Moderation labels as a review tool would write them: the wire format impressions are written in."""
    return record_encoder(kafka, registry, schemas.MODERATION_LABEL_HISTORY, f"{kafka.moderation_labels_topic}-value")


def record_encoder(kafka: KafkaSettings, registry: RegistrySettings | None, history: Path, subject: str) -> Encoder:
    """Records of `history`'s newest schema version in the configured wire format.

    The Confluent format registers that version under `subject` first (idempotent: a registered schema
    gets its existing id), as a producer's serializer with auto-registration would.
    """
    latest = schemas.versions(history)[-1]
    schema = parse_schema(json.loads(latest.text))
    if kafka.wire_format == WireFormat.CONFLUENT:
        if registry is None:
            raise ConfigError("the confluent wire format needs a schema registry: pass --schema-registry-url "
                              "(or start the local stack), or use --wire-format single-object")
        client = Registry(registry)
        try:
            schema_id = client.register(subject, latest.text)
        finally:
            client.close()
        return Encoder(schema, WireFormat.CONFLUENT, schema_id)
    return Encoder(schema, WireFormat.SINGLE_OBJECT)


def produce(kafka: KafkaSettings, generator: GeneratorSettings, realtime: bool = False,
            speedup: float = 1.0, registry: RegistrySettings | None = None) -> ProduceReport:
    """Send the generated stream; with `realtime`, pace sends to event time (`speedup` times faster)."""
    kafka_admin.require_ready(kafka)
    codec = impression_encoder(kafka, registry)
    labels = label_encoder(kafka, registry) if generator.labels else None
    producer = Producer(kafka_clients.config(kafka, {"linger.ms": 20, "enable.idempotence": True,
                                                     "compression.type": "lz4"}))
    due: list[tuple[int, str, dict]] = []  # labels not yet sent, by label time
    failures: list[str] = []

    def on_delivery(err, _msg) -> None:
        if err is not None:
            failures.append(str(err))

    def send(topic: str, key: str, value: bytes, timestamp: int) -> None:
        while True:
            try:
                producer.produce(topic, key=key.encode(), value=value, timestamp=timestamp, on_delivery=on_delivery)
                return
            except BufferError:
                producer.poll(0.1)  # local queue full: let deliveries drain

    def send_labels(until_ms: float) -> int:
        sent = 0
        while due and due[0][0] <= until_ms:
            labeled_at, _, label = heapq.heappop(due)
            send(kafka.moderation_labels_topic, label["item_id"], labels.encode(label), labeled_at)
            sent += 1
        return sent

    started = time.monotonic()
    count = unsafe = labelled = 0
    first = last = 0
    for generated in generate(generator):
        record = generated.record
        if realtime:
            delay = started + (record["event_time"] - generator.start_ms) / 1000 / speedup - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        labelled += send_labels(record["event_time"])
        send(kafka.impressions_topic, record["user_id_hash"], codec.encode(record), record["event_time"])
        producer.poll(0)
        if generated.moderation_label is not None:
            label = generated.moderation_label
            heapq.heappush(due, (label["labeled_at"], label["label_id"], label))
        first = first or record["event_time"]
        last = record["event_time"]
        count += 1
        unsafe += bool(generated.labels)
    labelled += send_labels(float("inf"))
    producer.flush(60)
    if failures:
        raise RiskstreamError(f"{len(failures)} of {count + labelled} records were not delivered to "
                              f"{kafka.bootstrap_servers}: {failures[0]}")
    return ProduceReport(count, unsafe, first, last, time.monotonic() - started, labelled)


def produce_faults(kafka: KafkaSettings, generator: GeneratorSettings, late: int, malformed: int,
                   registry: RegistrySettings | None = None) -> None:
    """Append what a real stream also carries: records for a long-closed minute, and undecodable bytes."""
    codec = impression_encoder(kafka, registry)
    producer = Producer(kafka_clients.config(kafka))
    now_ms = generator.start_ms + int(generator.count / generator.rate * 1000)
    for i, generated in enumerate(generate(GeneratorSettings(seed=generator.seed + 1, count=late,
                                                             start_ms=generator.start_ms))):
        record = {**generated.record, "event_id": f"late-{i}"}
        producer.produce(kafka.impressions_topic, value=codec.encode(record), timestamp=now_ms)
    for i in range(malformed):
        producer.produce(kafka.impressions_topic, value=b"not an impression %d" % i, timestamp=now_ms)
    producer.flush(30)
