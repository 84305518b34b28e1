"""What every Kafka client of the project is configured with: the brokers' address and, where the settings
say so, SASL credentials and the CA to check the brokers' certificates by (librdkafka's property names).

Functions of `riskstream.io` that talk to Kafka take either a bootstrap address (a broker that asks for no
credentials, as the local stack's by default) or the `KafkaSettings` a command or job was configured with.
"""
from __future__ import annotations

import logging
from typing import Union

from confluent_kafka import KafkaError

from riskstream.core.config import KafkaSecurity, KafkaSettings
from riskstream.core.errors import NotAuthorized

# A bootstrap address, or settings carrying the address and how to authenticate.
Kafka = Union[str, KafkaSettings]
# librdkafka's own log lines go through Python's logging, delivered when the client is polled; without a
# logger it writes them to stderr from its threads, and a client nobody closed (a test's, at the end of a
# session) fills the output with connection failures after its broker has stopped.
CLIENT_LOG = logging.getLogger("riskstream.kafka.client")


def address(kafka: Kafka) -> str:
    """The bootstrap servers, for clients and for messages that name what was tried."""
    return kafka if isinstance(kafka, str) else kafka.bootstrap_servers


def security(kafka: Kafka) -> KafkaSecurity:
    return KafkaSecurity() if isinstance(kafka, str) else kafka.security


# What a broker answers when the user's ACLs do not grant an operation.
REFUSED = (KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.CLUSTER_AUTHORIZATION_FAILED,
           KafkaError.GROUP_AUTHORIZATION_FAILED)


def not_authorized(kafka: Kafka, operation: str, resource: str, hint: str = "") -> NotAuthorized:
    """The error for a refusal of `operation` on `resource`, naming the address and the user."""
    return NotAuthorized(address(kafka), security(kafka).username, operation, resource, hint)


def librdkafka(settings: KafkaSecurity) -> dict[str, str]:
    """librdkafka's properties for `settings` (empty for PLAINTEXT)."""
    found: dict[str, str] = {}
    if settings.protocol != "PLAINTEXT":
        found["security.protocol"] = settings.protocol
    if settings.sasl:
        found.update({"sasl.mechanisms": settings.sasl_mechanism, "sasl.username": settings.username,
                      "sasl.password": str(settings.password)})
    if settings.ca_location:
        found["ssl.ca.location"] = settings.ca_location
    return found


def config(kafka: Kafka, extra: dict | None = None) -> dict:
    """A client's configuration: the address, the logger, the security settings, then `extra`."""
    return {"bootstrap.servers": address(kafka), "logger": CLIENT_LOG, **librdkafka(security(kafka)), **(extra or {})}
