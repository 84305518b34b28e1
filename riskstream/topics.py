"""The Kafka topics riskstream creates, with explicit partitions and configs."""
from __future__ import annotations

from riskstream.config import KafkaSettings
from riskstream.kafka_admin import TopicSpec

WEEK_MS = str(7 * 24 * 3600 * 1000)


def specs(kafka: KafkaSettings) -> list[TopicSpec]:
    return [
        TopicSpec(kafka.impressions_topic, kafka.partitions,
                  {"retention.ms": WEEK_MS, "cleanup.policy": "delete", "message.timestamp.type": "CreateTime"}),
        # Dead letters are evidence: kept four weeks, one partition keeps them in arrival order per job.
        TopicSpec(kafka.dead_letter_topic, 1, {"retention.ms": str(4 * 7 * 24 * 3600 * 1000), "cleanup.policy": "delete"}),
    ]
