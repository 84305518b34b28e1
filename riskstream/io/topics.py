"""The Kafka topics riskstream creates, with explicit partitions and configs."""
from __future__ import annotations

from riskstream.core.config import KafkaSettings
from riskstream.io.kafka_admin import TopicSpec

HOUR_MS = 3600 * 1000
IMPRESSIONS_MAX_MESSAGE_BYTES = 4 * 1024 * 1024
DAY_MS = 24 * HOUR_MS


def specs(kafka: KafkaSettings) -> list[TopicSpec]:
    hours = kafka.impressions_retention_hours
    return [
        # CreateTime: the record timestamp is the producer's, the impression's event time, which the
        # job's watermarks follow; retention counts from it too.
        TopicSpec(kafka.impressions_topic, kafka.partitions,
                  {"retention.ms": str(hours * HOUR_MS if hours >= 0 else -1), "cleanup.policy": "delete",
                   "message.timestamp.type": "CreateTime",
                   # Producers' batches of large records are accepted; the job dead-letters any size it reads.
                   "max.message.bytes": str(IMPRESSIONS_MAX_MESSAGE_BYTES)}),
        # Dead letters are evidence (raw bytes): kept as long as their index (dead_letters), item-level rows;
        # one partition keeps them in arrival order per job.
        TopicSpec(kafka.dead_letter_topic, 1, {"retention.ms": str(kafka.retention.item_days * DAY_MS),
                                               "cleanup.policy": "delete"}),
        # Policies: one partition is one order of publication; every publication has a key of its own
        # (version@created_at_ms), so compaction keeps them all and the topic is the policy history.
        TopicSpec(kafka.policies_topic, 1, {"cleanup.policy": "compact"}),
        # Verdicts: keyed by item id and compacted, so the newest verdict per item is what stays.
        TopicSpec(kafka.item_verdicts_topic, kafka.partitions, {"cleanup.policy": "compact"}),
        # Breaker transitions: keyed by slice and compacted, so the newest per slice is its breaker's state.
        TopicSpec(kafka.breaker_state_topic, kafka.partitions, {"cleanup.policy": "compact"}),
        # Forget requests: keyed kind:id and compacted, one per subject for as long as the project runs (the
        # suppression list every job applies at decode; a replay of old offsets too).
        TopicSpec(kafka.forget_requests_topic, 1, {"cleanup.policy": "compact"}),
        # Human labels are the ground truth the model is measured against: kept as long as their outcomes
        # (label_outcomes), by label time.
        TopicSpec(kafka.moderation_labels_topic, kafka.partitions,
                  {"retention.ms": str(kafka.retention.label_days * DAY_MS), "cleanup.policy": "delete",
                   "message.timestamp.type": "CreateTime"}),
    ]


def named(kafka: KafkaSettings, *names: str) -> list[TopicSpec]:
    """The specs of the named topics (a command or service ensures only the topics it uses)."""
    return [spec for spec in specs(kafka) if spec.name in names]


def guard_topics(kafka: KafkaSettings) -> list[TopicSpec]:
    """The topics the guard follows: verdicts, breaker state, and policies (kill switches)."""
    return named(kafka, kafka.item_verdicts_topic, kafka.breaker_state_topic, kafka.policies_topic)
