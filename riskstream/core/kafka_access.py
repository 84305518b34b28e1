"""Who may do what on Kafka: one user per component and the grants (ACLs) it needs, nothing more.

The one source of truth for both places users exist: the local broker started with `--kafka-auth scram`
(users and ACLs created by the stack) and Strimzi `KafkaUser`s on Kubernetes (`riskstream k8s users`
renders k8s/base/kafka-users.yaml from this table; a test fails when the file drifts). Operation names are
Kafka's (and Strimzi's): Read, Write, Describe, DescribeConfigs, AlterConfigs, Create.
"""
from __future__ import annotations

from dataclasses import dataclass

from riskstream.core.config import KafkaSettings

# Every consumer group the project's clients use is named riskstream-...
GROUP_PREFIX = "riskstream-"
ADMIN = "riskstream-admin"  # the local broker's super user: inter-broker traffic, topic creation, ACLs


@dataclass(frozen=True)
class Grant:
    resource: str  # "topic" or "group"
    name: str
    operations: tuple[str, ...]
    prefix: bool = False  # the name is a prefix (Kafka's PREFIXED pattern) rather than a literal

    def __post_init__(self) -> None:
        if self.resource not in ("topic", "group"):
            raise ValueError(f"grant on {self.resource!r}: expected topic or group")


@dataclass(frozen=True)
class KafkaUser:
    name: str
    purpose: str
    grants: tuple[Grant, ...]


READ = ("Read", "Describe", "DescribeConfigs")
WRITE = ("Write", "Describe", "DescribeConfigs")
READ_WRITE = ("Read", "Write", "Describe", "DescribeConfigs")
GROUPS = Grant("group", GROUP_PREFIX, ("Read", "Describe"), prefix=True)


def _topics(names: tuple[str, ...], operations: tuple[str, ...]) -> tuple[Grant, ...]:
    return tuple(Grant("topic", name, operations) for name in names)


def users(kafka: KafkaSettings) -> tuple[KafkaUser, ...]:
    """The project's Kafka users for the topics `kafka` names."""
    every_topic = (kafka.impressions_topic, kafka.dead_letter_topic, kafka.policies_topic, kafka.item_verdicts_topic,
                   kafka.breaker_state_topic, kafka.forget_requests_topic, kafka.moderation_labels_topic)
    return (
        KafkaUser("riskstream-job", "the safety-health job: reads its inputs, writes its outputs",
                  _topics((kafka.impressions_topic, kafka.policies_topic, kafka.forget_requests_topic,
                           kafka.moderation_labels_topic), READ)
                  + _topics((kafka.dead_letter_topic, kafka.item_verdicts_topic, kafka.breaker_state_topic), WRITE)
                  + (GROUPS,)),
        KafkaUser("riskstream-guard", "the guard: follows verdicts, breaker state and policies (kill switches)",
                  _topics((kafka.item_verdicts_topic, kafka.breaker_state_topic, kafka.policies_topic), READ)
                  + (Grant("group", f"{GROUP_PREFIX}guard", ("Read", "Describe"), prefix=True),)),
        KafkaUser("riskstream-policy-publisher", "`riskstream policy publish/rollback`: the only writer of policies",
                  _topics((kafka.policies_topic,), READ_WRITE)),
        KafkaUser("riskstream-producer", "the recommender's impression producer (`riskstream produce`)",
                  _topics((kafka.impressions_topic,), WRITE)),
        KafkaUser("riskstream-review-tool", "human reviewers' labels",
                  _topics((kafka.moderation_labels_topic,), WRITE)),
        KafkaUser("riskstream-operator", "`riskstream forget`, `forget verify` and `retention show`",
                  _topics((kafka.forget_requests_topic, kafka.item_verdicts_topic), READ_WRITE)
                  + _topics(tuple(t for t in every_topic
                                  if t not in (kafka.forget_requests_topic, kafka.item_verdicts_topic)), READ)
                  + (GROUPS,)),
    )


def user(kafka: KafkaSettings, name: str) -> KafkaUser:
    for found in users(kafka):
        if found.name == name:
            return found
    raise KeyError(f"no Kafka user {name!r}: the project's are {', '.join(u.name for u in users(kafka))}")
