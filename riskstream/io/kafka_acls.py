"""Create the project's Kafka users (SCRAM credentials) and their ACLs on a broker, as its admin.

What each user may do is `riskstream.core.kafka_access`'s table; Strimzi applies the same table on
Kubernetes (KafkaUser resources), the local stack applies it here.
"""
from __future__ import annotations

import re

from confluent_kafka.admin import (AclBinding, AclOperation, AclPermissionType, AdminClient, ResourcePatternType,
                                   ResourceType, ScramCredentialInfo, ScramMechanism, UserScramCredentialUpsertion)

from riskstream.core.errors import RiskstreamError
from riskstream.core.kafka_access import KafkaUser
from riskstream.io.kafka_clients import Kafka, address, config

ITERATIONS = 4096  # SCRAM's iteration count (Kafka's minimum, and Strimzi's)


def _operation(name: str) -> AclOperation:
    return AclOperation[re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()]


def bindings(user: KafkaUser) -> list[AclBinding]:
    """The ALLOW ACLs for every grant of `user`, from any host."""
    return [AclBinding(ResourceType.TOPIC if grant.resource == "topic" else ResourceType.GROUP, grant.name,
                       ResourcePatternType.PREFIXED if grant.prefix else ResourcePatternType.LITERAL,
                       f"User:{user.name}", "*", _operation(operation), AclPermissionType.ALLOW)
            for grant in user.grants for operation in grant.operations]


def apply(admin: Kafka, users: tuple[KafkaUser, ...], passwords: dict[str, str], timeout_s: float = 30.0) -> None:
    """Set each user's SCRAM-SHA-512 password and create its ACLs (both idempotent), authenticated as an admin."""
    client = AdminClient(config(admin))
    upserts = [UserScramCredentialUpsertion(user.name, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, ITERATIONS),
                                            passwords[user.name].encode()) for user in users]
    futures = {**client.alter_user_scram_credentials(upserts, request_timeout=timeout_s),
               **client.create_acls([b for user in users for b in bindings(user)], request_timeout=timeout_s)}
    for what, future in futures.items():
        try:
            future.result()
        except Exception as exc:  # a KafkaException, or the future's own timeout
            raise RiskstreamError(f"could not set up {what} on {address(admin)}: {exc}") from exc
