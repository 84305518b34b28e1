"""The policies topic as records: read every one, append one. What they mean is `udfs.policy`'s business.

One partition, so offsets are the order of publication.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException, TopicPartition

from riskstream.core.config import KafkaSettings
from riskstream.io import kafka_admin, topic_records
from riskstream.io.kafka_clients import config

PARTITION = 0
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TopicRecord:
    offset: int
    key: bytes | None
    value: bytes | None


class Follower:
    """Reads the policies topic from its first record and keeps up with it: `open()` returns every record
    there is, then `poll()` returns, without waiting, whatever was published since."""

    def __init__(self, kafka: KafkaSettings, group_id: str = "riskstream-policy-cli"):
        self.kafka = kafka
        self.group_id = group_id
        self._consumer: Consumer | None = None

    def open(self, timeout_s: float = 10.0) -> list[TopicRecord]:
        kafka = self.kafka
        kafka_admin.require_ready(kafka)
        end = kafka_admin.end_offsets(kafka, kafka.policies_topic).get(PARTITION, 0)
        # Offsets are not committed: every reader starts from the first record, as the history requires.
        self._consumer = Consumer(config(kafka, {"group.id": self.group_id,
                                                 "enable.auto.commit": False, "enable.partition.eof": False}))
        self._consumer.assign([TopicPartition(kafka.policies_topic, PARTITION, 0)])
        found: list[TopicRecord] = []
        deadline = time.monotonic() + timeout_s
        while (not found or found[-1].offset < end - 1) and end > 0 and time.monotonic() < deadline:
            found.extend(self._consume(1.0))
        if end > 0 and (not found or found[-1].offset < end - 1):
            self.close()
            raise KafkaException(f"read {len(found)} of {end} records of {kafka.policies_topic} from "
                                 f"{kafka.bootstrap_servers} within {timeout_s} s")
        return found

    def poll(self) -> list[TopicRecord]:
        """What arrived since, without waiting; a passing broker error is logged, and the next poll retries."""
        return self._consume(0, tolerate=True)

    def _consume(self, timeout_s: float, tolerate: bool = False) -> list[TopicRecord]:
        found = []
        for message in self._consumer.consume(num_messages=500, timeout=timeout_s):
            error = message.error()
            if error and tolerate and not error.fatal():
                log.warning("policies topic %s: %s; the active policy stays", self.kafka.policies_topic, error)
                continue
            if error:
                raise KafkaException(error)
            found.append(TopicRecord(message.offset(), message.key(), message.value()))
        return found

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None


def read_all(kafka: KafkaSettings, timeout_s: float = 10.0) -> list[TopicRecord]:
    """Every record of the policies topic, oldest first."""
    follower = Follower(kafka)
    try:
        return follower.open(timeout_s)
    finally:
        follower.close()


def append(kafka: KafkaSettings, key: bytes, value: bytes, timestamp_ms: int) -> int:
    """Write one record to the policies topic's one partition and wait for the broker's acknowledgement;
    returns its offset."""
    [offset] = topic_records.produce(kafka, kafka.policies_topic,
                                     [(key, value, PARTITION, timestamp_ms)], timeout_s=10.0)
    return offset
