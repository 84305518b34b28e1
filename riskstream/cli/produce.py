"""`riskstream produce`: write generated impressions to Kafka as Avro, paced or as fast as possible."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass

from confluent_kafka import Producer
from fastavro.schema import parse_schema

from riskstream.io import kafka_admin
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


def impression_encoder(kafka: KafkaSettings, registry: RegistrySettings | None) -> Encoder:
    """Impressions in the topic's wire format with the newest checked-in schema version.

    The Confluent format registers that version under the topic's subject first (idempotent: a
    registered schema gets its existing id), as a producer's serializer with auto-registration would.
    """
    latest = schemas.versions(schemas.IMPRESSION_HISTORY)[-1]
    schema = parse_schema(json.loads(latest.text))
    if kafka.wire_format == WireFormat.CONFLUENT:
        if registry is None:
            raise ConfigError("the confluent wire format needs a schema registry: pass --schema-registry-url "
                              "(or start the local stack), or use --wire-format single-object")
        client = Registry(registry)
        try:
            schema_id = client.register(registry.subject, latest.text)
        finally:
            client.close()
        return Encoder(schema, WireFormat.CONFLUENT, schema_id)
    return Encoder(schema, WireFormat.SINGLE_OBJECT)


def produce(kafka: KafkaSettings, generator: GeneratorSettings, realtime: bool = False,
            speedup: float = 1.0, registry: RegistrySettings | None = None) -> ProduceReport:
    """Send the generated stream; with `realtime`, pace sends to event time (`speedup` times faster)."""
    kafka_admin.require_ready(kafka.bootstrap_servers)
    codec = impression_encoder(kafka, registry)
    producer = Producer({"bootstrap.servers": kafka.bootstrap_servers, "linger.ms": 20,
                         "enable.idempotence": True, "compression.type": "lz4"})
    failures: list[str] = []

    def on_delivery(err, _msg) -> None:
        if err is not None:
            failures.append(str(err))

    started = time.monotonic()
    count = unsafe = 0
    first = last = 0
    for generated in generate(generator):
        record = generated.record
        if realtime:
            due = started + (record["event_time"] - generator.start_ms) / 1000 / speedup
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        while True:
            try:
                producer.produce(kafka.impressions_topic, key=record["user_id_hash"].encode(),
                                 value=codec.encode(record), timestamp=record["event_time"], on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.1)  # local queue full: let deliveries drain
        producer.poll(0)
        first = first or record["event_time"]
        last = record["event_time"]
        count += 1
        unsafe += bool(generated.labels)
    producer.flush(60)
    if failures:
        raise RiskstreamError(f"{len(failures)} of {count} impressions were not delivered to "
                              f"{kafka.bootstrap_servers}: {failures[0]}")
    return ProduceReport(count, unsafe, first, last, time.monotonic() - started)


def produce_faults(kafka: KafkaSettings, generator: GeneratorSettings, late: int, malformed: int,
                   registry: RegistrySettings | None = None) -> None:
    """Append what a real stream also carries: records for a long-closed minute, and undecodable bytes."""
    codec = impression_encoder(kafka, registry)
    producer = Producer({"bootstrap.servers": kafka.bootstrap_servers})
    now_ms = generator.start_ms + int(generator.count / generator.rate * 1000)
    for i, generated in enumerate(generate(GeneratorSettings(seed=generator.seed + 1, count=late,
                                                             start_ms=generator.start_ms))):
        record = {**generated.record, "event_id": f"late-{i}"}
        producer.produce(kafka.impressions_topic, value=codec.encode(record), timestamp=now_ms)
    for i in range(malformed):
        producer.produce(kafka.impressions_topic, value=b"not an impression %d" % i, timestamp=now_ms)
    producer.flush(30)
