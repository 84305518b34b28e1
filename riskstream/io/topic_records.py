"""Whole-topic reads and keyed writes for erasure: the newest value per key of a compacted topic, acknowledged
writes (requests, tombstones), and a scan of a raw topic for the records that carry an id."""
from __future__ import annotations

import time
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition

from riskstream.io import kafka_admin
from riskstream.io.kafka_clients import REFUSED, Kafka, address, config, not_authorized
from riskstream.io.compacted import CompactedFollower

def newest_per_key(bootstrap: Kafka, topic: str, timeout_s: float = 30.0) -> dict[bytes, bytes | None]:
    """Every key of `topic` -> its newest value (None: a tombstone), read from the first offset to the end."""
    newest: dict[bytes, bytes | None] = {}

    def keep(_offset: int, key: bytes | None, value: bytes | None) -> None:
        if key is not None:
            newest[key] = value

    follower = CompactedFollower(bootstrap, {topic: keep}, f"riskstream-read-{topic}")
    follower.start()
    try:
        if not follower.wait_caught_up(timeout_s):
            raise KafkaException(f"{topic} on {address(bootstrap)} was not read to its end within {timeout_s:.0f} s")
    finally:
        follower.stop()
    return newest


def write(bootstrap: Kafka, topic: str, records: list[tuple[bytes, bytes | None]], timeout_s: float = 30.0) -> int:
    """Write (key, value) records (a None value is a tombstone) and wait for every acknowledgement."""
    return len(produce(bootstrap, topic, [(key, value, None, None) for key, value in records], timeout_s))


def produce(bootstrap: Kafka, topic: str, records: list[tuple[bytes, bytes | None, int | None, int | None]],
            timeout_s: float = 30.0) -> list[int]:
    """Write (key, value, partition, timestamp ms) records, a None partition chosen by the key and a None
    timestamp the producer's clock, and wait for every acknowledgement; returns their offsets in order."""
    # Java's partitioner (murmur2), the one Flink's Kafka sink uses: a tombstone lands in its key's partition.
    producer = Producer(config(bootstrap, {"enable.idempotence": True, "acks": "all",
                                           "partitioner": "murmur2_random"}))
    offsets: list[int | None] = [None] * len(records)
    failed: list = []

    def delivered(index: int):
        def callback(error, message) -> None:
            if error is None:
                offsets[index] = message.offset()
            else:
                failed.append(error)
        return callback

    for index, (key, value, partition, timestamp_ms) in enumerate(records):
        placement = {} if partition is None else {"partition": partition}
        stamp = {} if timestamp_ms is None else {"timestamp": timestamp_ms}
        producer.produce(topic, key=key, value=value, on_delivery=delivered(index), **placement, **stamp)
        producer.poll(0)
    try:
        producer.flush(timeout_s)
    except (KafkaException, SystemError) as exc:
        # A user who may write no topic at all is refused its producer id: a fatal error, raised from flush
        # (from inside a delivery callback, where Python reports it as a SystemError around it).
        fatal = exc if isinstance(exc, KafkaException) else exc.__context__
        if isinstance(fatal, KafkaException) and fatal.args[0].code() in REFUSED:
            raise not_authorized(bootstrap, "Write", f"topic {topic}") from exc
        raise
    acknowledged = sum(offset is not None for offset in offsets)
    if any(error.code() in REFUSED for error in failed):
        raise not_authorized(bootstrap, "Write", f"topic {topic}")
    if failed or acknowledged != len(records):
        raise KafkaException(f"{topic} on {address(bootstrap)}: {acknowledged} of {len(records)} records acknowledged "
                             f"({failed[0] if failed else 'timed out'})")
    return offsets


@dataclass(frozen=True)
class RawFinding:
    """Records of a raw topic carrying an id, and the newest one's timestamp (retention counts from it)."""

    topic: str
    records: int
    newest_ms: int | None


def avro_string(text: str) -> bytes:
    """`text` as Avro encodes a string: its length as a zig-zag varint, then its UTF-8 bytes. Searching a record
    for these bytes finds the id as a whole field, not inside a longer one."""
    data = text.encode("utf-8")
    number, out = len(data) << 1, bytearray()
    while number > 0x7F:
        out.append((number & 0x7F) | 0x80)
        number >>= 7
    out.append(number)
    return bytes(out) + data


def scan_raw(bootstrap: Kafka, topic: str, ids: list[str], timeout_s: float = 120.0) -> RawFinding:
    """Read `topic` from its first retained record to its end; count records whose key is an id or whose value
    holds one as an Avro string."""
    keys = {i.encode("utf-8") for i in ids}
    needles = [avro_string(i) for i in ids]
    ends = kafka_admin.end_offsets(bootstrap, topic)
    consumer = Consumer(config(bootstrap, {"group.id": f"riskstream-scan-{topic}",
                                           "enable.auto.commit": False, "enable.partition.eof": False}))
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
    remaining = {p: end for p, end in ends.items() if end > 0}
    count, newest = 0, None
    deadline = time.monotonic() + timeout_s
    try:
        while remaining and time.monotonic() < deadline:
            for message in consumer.consume(num_messages=1000, timeout=1.0):
                if message.error():
                    continue
                value = message.value() or b""
                if message.key() in keys or any(n in value for n in needles):
                    count += 1
                    newest = max(newest or 0, message.timestamp()[1])
            # The position passes records never delivered (transaction markers): done when it reaches the end.
            for position in consumer.position([TopicPartition(topic, p) for p in remaining]):
                if position.offset >= remaining[position.partition]:
                    remaining.pop(position.partition)
        if remaining:
            raise KafkaException(f"{topic} on {address(bootstrap)} was not read to its end within {timeout_s:.0f} s")
    finally:
        consumer.close()
    return RawFinding(topic, count, newest)
