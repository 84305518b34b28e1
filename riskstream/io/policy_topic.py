"""The policies topic as records: read every one, append one. What they mean is `udfs.policy`'s business.

One partition, so offsets are the order of publication.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from riskstream.core.config import KafkaSettings
from riskstream.io import kafka_admin

PARTITION = 0


@dataclass(frozen=True)
class TopicRecord:
    offset: int
    key: bytes | None
    value: bytes | None


def read_all(kafka: KafkaSettings, timeout_s: float = 10.0) -> list[TopicRecord]:
    """Every record of the policies topic, oldest first."""
    kafka_admin.require_ready(kafka.bootstrap_servers)
    end = kafka_admin.end_offsets(kafka.bootstrap_servers, kafka.policies_topic).get(PARTITION, 0)
    found: list[TopicRecord] = []
    if end == 0:
        return found
    consumer = Consumer({"bootstrap.servers": kafka.bootstrap_servers, "group.id": "riskstream-policy-cli",
                         "enable.auto.commit": False})
    try:
        consumer.assign([TopicPartition(kafka.policies_topic, PARTITION, 0)])
        deadline = time.monotonic() + timeout_s
        while (not found or found[-1].offset < end - 1) and time.monotonic() < deadline:
            for message in consumer.consume(num_messages=500, timeout=1.0):
                if message.error():
                    raise KafkaException(message.error())
                found.append(TopicRecord(message.offset(), message.key(), message.value()))
    finally:
        consumer.close()
    if not found or found[-1].offset < end - 1:
        raise KafkaException(f"read {len(found)} of {end} records of {kafka.policies_topic} from "
                             f"{kafka.bootstrap_servers} within {timeout_s} s")
    return found


def append(kafka: KafkaSettings, key: bytes, value: bytes, timestamp_ms: int) -> int:
    """Write one record and wait for the broker's acknowledgement; returns its offset."""
    producer = Producer({"bootstrap.servers": kafka.bootstrap_servers, "enable.idempotence": True, "acks": "all"})
    delivered: list = []
    producer.produce(kafka.policies_topic, key=key, value=value, partition=PARTITION, timestamp=timestamp_ms,
                     on_delivery=lambda err, msg: delivered.append((err, msg)))
    producer.flush(10.0)
    if not delivered or delivered[0][0] is not None:
        raise KafkaException(delivered[0][0] if delivered else
                             f"no acknowledgement from {kafka.bootstrap_servers} for {kafka.policies_topic}")
    return delivered[0][1].offset()
