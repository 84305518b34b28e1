"""Test-side Kafka I/O: send messages and learn their offsets, read a topic back."""
from __future__ import annotations

from confluent_kafka import Consumer, Producer, TopicPartition

from riskstream.io.kafka_clients import Kafka, config


def send(bootstrap: Kafka, topic: str, messages: list[tuple[bytes | None, bytes | None, int]],
         partition: int | None = None, compression: str = "none",
         headers: list[tuple[str, bytes]] | None = None) -> list[tuple[int, int]]:
    """Produce (key, value, timestamp_ms) messages in order, to `partition` or by key, compressed with
    `compression` (none, gzip, snappy, lz4, zstd); return each one's (partition, offset)."""
    producer = Producer(config(bootstrap, {"enable.idempotence": True, "linger.ms": 5, "compression.type": compression,
                                           "message.max.bytes": 4 * 1024 * 1024}))
    positions: list[tuple[int, int] | None] = [None] * len(messages)
    errors: list[str] = []

    def delivered(index):
        def callback(err, msg):
            if err is not None:
                errors.append(str(err))
            else:
                positions[index] = (msg.partition(), msg.offset())
        return callback

    for index, (key, value, timestamp) in enumerate(messages):
        where = {} if partition is None else {"partition": partition}
        if headers:
            where["headers"] = headers
        producer.produce(topic, key=key, value=value, timestamp=timestamp, on_delivery=delivered(index), **where)
        producer.poll(0)
    producer.flush(60)
    assert not errors, errors[:3]
    return positions


def read_all(bootstrap: Kafka, topic: str, timeout_s: float = 20.0) -> list:
    """Every message currently in the topic."""
    consumer = Consumer(config(bootstrap, {"group.id": "riskstream-test-reader", "enable.auto.commit": False,
                                           "auto.offset.reset": "earliest", "isolation.level": "read_committed"}))
    try:
        partitions = consumer.list_topics(topic, timeout=timeout_s).topics[topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s)[1] for p in partitions}
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        messages, remaining = [], {p for p, end in ends.items() if end > 0}
        while remaining:
            msg = consumer.poll(timeout_s)
            assert msg is not None, f"timed out reading {topic}"
            if msg.error():
                continue
            messages.append(msg)
            if msg.offset() >= ends[msg.partition()] - 1:
                remaining.discard(msg.partition())
        return messages
    finally:
        consumer.close()

