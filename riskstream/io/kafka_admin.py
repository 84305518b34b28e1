"""Kafka admin tasks the project does itself: readiness probe and explicit topic creation."""
from __future__ import annotations

import logging
import socket
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic, ResourceType

from riskstream.core.errors import RiskstreamError, ServiceUnavailable
from riskstream.io.kafka_clients import REFUSED, Kafka, address, config, not_authorized, security

# librdkafka logs every refused connection; the probe reports reachability itself.
_QUIET = logging.getLogger("riskstream.kafka.quiet")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    configs: dict[str, str] = field(default_factory=dict)


def _raise_refused(exc: KafkaException, bootstrap: Kafka, operation: str, resource: str, hint: str) -> None:
    """A refusal by the broker's ACLs as NotAuthorized, naming the user; anything else returns."""
    if exc.args[0].code() in REFUSED:
        raise not_authorized(bootstrap, operation, resource, hint) from exc


def _admin(bootstrap: Kafka, extra: dict | None = None) -> AdminClient:
    return AdminClient(config(bootstrap, {"socket.connection.setup.timeout.ms": 2000, **(extra or {})}),
                       logger=_QUIET)


def _port_open(bootstrap: Kafka) -> bool:
    host, _, port = address(bootstrap).split(",")[0].rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


def probe(bootstrap: Kafka, timeout_s: float = 2.0) -> str | None:
    """None when a broker answers a metadata request; otherwise why not (refused credentials named)."""
    if not _port_open(bootstrap):
        return "nothing listens there"
    errors: list[KafkaError] = []
    admin = _admin(bootstrap, {"error_cb": errors.append})
    try:
        metadata = admin.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        admin.poll(0.5)  # serves the error callback, which names an authentication failure
        user = security(bootstrap).username
        if any(e.code() == KafkaError._AUTHENTICATION for e in errors):
            return f"the broker refused the credentials of user {user}"
        if any(e.code() == KafkaError._SSL for e in errors):
            return ("the TLS handshake failed (is the broker's certificate signed by the CA of "
                    "--kafka-ssl-ca-location? does the broker speak TLS?)")
        if not user:
            return f"no broker answered a metadata request ({exc.args[0].str()}; does it require SASL or TLS? " \
                   f"see --kafka-security-protocol)"
        return f"no broker answered a metadata request ({exc.args[0].str()})"
    return None if metadata.brokers else "no broker in the metadata"


def is_ready(bootstrap: Kafka, timeout_s: float = 2.0) -> bool:
    """True when a broker answers a metadata request."""
    return probe(bootstrap, timeout_s) is None


def require_ready(bootstrap: Kafka) -> None:
    """Fail fast, naming the address and why, when no broker answers."""
    reason = probe(bootstrap)
    if reason is not None:
        raise ServiceUnavailable("Kafka", address(bootstrap), reason)


def _wait_for_leaders(admin: AdminClient, names: list[str], timeout_s: float) -> dict:
    """Topic metadata once every partition of the named topics has a leader."""
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        existing = admin.list_topics(timeout=timeout_s).topics
        if all(name in existing and existing[name].partitions and
               all(p.leader >= 0 for p in existing[name].partitions.values()) for name in names):
            return existing
        if time.monotonic() > deadline:
            raise RiskstreamError(f"topics {names} have partitions without a leader after {timeout_s:.0f}s")
        time.sleep(0.2)


def topic_configs(bootstrap: Kafka, names: list[str], timeout_s: float = 10.0) -> dict[str, dict[str, str]]:
    """Each topic's configuration as the brokers report it (defaults included)."""
    admin = _admin(bootstrap)
    futures = admin.describe_configs([ConfigResource(ResourceType.TOPIC, name) for name in names],
                                     request_timeout=timeout_s)
    return {resource.name: {key: entry.value for key, entry in future.result().items()}
            for resource, future in futures.items()}


def _align_configs(admin: AdminClient, bootstrap: Kafka, topics: list[TopicSpec], timeout_s: float) -> None:
    """Set the configs an existing topic holds otherwise (retention changed in the settings, say)."""
    if not topics:
        return
    current = topic_configs(bootstrap, [t.name for t in topics], timeout_s)
    changes = [ConfigResource(ResourceType.TOPIC, t.name, incremental_configs=[
        ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET)
        for key, value in t.configs.items() if current[t.name].get(key) != value]) for t in topics]
    changes = [c for c in changes if c.incremental_configs]
    if not changes:
        return
    for resource, future in admin.incremental_alter_configs(changes, request_timeout=timeout_s).items():
        try:
            future.result()
        except KafkaException as exc:
            _raise_refused(exc, bootstrap, "AlterConfigs", f"topic {resource.name}",
                           "its configs differ from the settings "
                           f"({', '.join(f'{e.name}={e.value}' for e in resource.incremental_configs)}): an admin "
                           "sets them (on Kubernetes its KafkaTopic does)")
            raise RiskstreamError(f"could not set the configs of topic {resource.name} on {address(bootstrap)}: {exc}") from exc


def ensure_topics(bootstrap: Kafka, topics: list[TopicSpec], timeout_s: float = 30.0) -> None:
    """Create the topics that do not exist; check the partition count of those that do, and set their
    configs (retention, cleanup policy) where they differ from the specs."""
    admin = _admin(bootstrap)
    existing = admin.list_topics(timeout=timeout_s).topics
    missing = [t for t in topics if t.name not in existing]
    if missing:
        futures = admin.create_topics(
            [NewTopic(t.name, num_partitions=t.partitions, replication_factor=1, config=t.configs) for t in missing],
            operation_timeout=timeout_s,
        )
        for name, future in futures.items():
            try:
                future.result()
            except KafkaException as exc:
                _raise_refused(exc, bootstrap, "Create", f"topic {name}",
                               "the topic does not exist (or this user may not see it): create it as an admin "
                               "(on Kubernetes its KafkaTopic does)")
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise RiskstreamError(f"could not create topic {name} on {address(bootstrap)}: {exc}") from exc
    existing = _wait_for_leaders(admin, [t.name for t in topics], timeout_s)
    for topic in topics:
        actual = len(existing[topic.name].partitions)
        if actual != topic.partitions:
            raise RiskstreamError(
                f"topic {topic.name} on {address(bootstrap)} has {actual} partitions, riskstream expects {topic.partitions}")
    _align_configs(admin, bootstrap, [t for t in topics if t.name not in {m.name for m in missing}], timeout_s)


def end_offsets(bootstrap: Kafka, topic: str, timeout_s: float = 10.0) -> dict[int, int]:
    """Partition -> next offset to be written: where a reader starts to see only what comes after now."""
    return {partition: high for partition, (_, high) in offset_bounds(bootstrap, topic, timeout_s).items()}


def committed_offsets(bootstrap: Kafka, group: str, topic: str, timeout_s: float = 10.0) -> dict[int, int]:
    """Partition -> the offset `group` committed on `topic` (the next it would read); partitions it has not
    committed are absent."""
    consumer = _group_consumer(bootstrap, group)
    try:
        partitions = _admin(bootstrap).list_topics(topic, timeout=timeout_s).topics[topic].partitions
        return _committed(consumer, topic, partitions, timeout_s)
    except KafkaException as exc:
        raise RiskstreamError(f"could not read group {group}'s offsets of {topic} on {address(bootstrap)}: {exc}") from exc
    finally:
        consumer.close()


def _group_consumer(bootstrap: Kafka, group: str):
    from confluent_kafka import Consumer

    return Consumer(config(bootstrap, {"group.id": group, "enable.auto.commit": False}), logger=_QUIET)


def _committed(consumer, topic: str, partitions, timeout_s: float) -> dict[int, int]:
    """Partition -> the consumer's group's committed offset on `topic`, for the partitions that have one."""
    from confluent_kafka import TopicPartition

    committed = consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=timeout_s)
    return {tp.partition: tp.offset for tp in committed if tp.offset >= 0}


def offset_bounds(bootstrap: Kafka, topic: str, timeout_s: float = 10.0) -> dict[int, tuple[int, int]]:
    """Partition -> (first offset still held, next offset to be written)."""
    from confluent_kafka import Consumer, TopicPartition

    import time

    consumer = Consumer(config(bootstrap, {"group.id": "riskstream-offsets", "enable.auto.commit": False}),
                        logger=_QUIET)
    deadline = time.monotonic() + timeout_s
    try:
        partitions = _admin(bootstrap).list_topics(topic, timeout=timeout_s).topics[topic].partitions
        while True:
            try:
                return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s)
                        for p in partitions}
            except KafkaException as exc:
                # A topic created a moment ago may still be electing its partition leaders.
                if not exc.args[0].retriable() and exc.args[0].code() != KafkaError.NOT_LEADER_FOR_PARTITION \
                        or time.monotonic() > deadline:
                    raise RiskstreamError(f"could not read the offsets of {topic} on {address(bootstrap)}: {exc}") from exc
                time.sleep(0.2)
    finally:
        consumer.close()


def first_timestamp(bootstrap: Kafka, topic: str, start_offsets: dict[int, int] | None = None,
                    timeout_s: float = 10.0) -> int | None:
    """The earliest record timestamp among the records a reader starting at `start_offsets` (default: each
    partition's first) reads first, one per partition; None when there is nothing to read."""
    from confluent_kafka import Consumer, TopicPartition

    import time

    consumer = Consumer(config(bootstrap, {"group.id": "riskstream-offsets", "enable.auto.commit": False}),
                        logger=_QUIET)
    try:
        starts = []
        for partition in _admin(bootstrap).list_topics(topic, timeout=timeout_s).topics[topic].partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout_s)
            start = max(low, (start_offsets or {}).get(partition, low))
            if start < high:
                starts.append(TopicPartition(topic, partition, start))
        if not starts:
            return None
        consumer.assign(starts)
        pending, earliest = {tp.partition for tp in starts}, None
        deadline = time.monotonic() + timeout_s
        while pending and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error() or message.partition() not in pending:
                continue
            pending.discard(message.partition())
            stamp = message.timestamp()[1]
            earliest = stamp if earliest is None else min(earliest, stamp)
        return earliest
    except KafkaException as exc:
        raise RiskstreamError(f"could not read the first records of {topic} on {address(bootstrap)}: {exc}") from exc
    finally:
        consumer.close()


def wait_committed(bootstrap: Kafka, group: str, topic: str, targets: dict[int, int], timeout_s: float = 180.0) -> None:
    """Wait until `group` has committed at least `targets` (partition -> offset) on `topic`.

    A Flink job commits its source offsets when a checkpoint completes, and a checkpoint completes only
    after every record before its barrier passed every operator: a committed offset means processed.
    """
    import time

    consumer = _group_consumer(bootstrap, group)
    try:
        deadline = time.monotonic() + timeout_s
        wanted = [p for p, o in targets.items() if o > 0]
        while True:
            committed = _committed(consumer, topic, wanted, 10)
            if all(committed.get(p, -1) >= targets[p] for p in wanted):
                return
            if time.monotonic() > deadline:
                raise RiskstreamError(f"consumer group {group} on {address(bootstrap)} committed {committed} of {topic}, "
                                      f"still short of {targets} after {timeout_s:.0f}s")
            time.sleep(0.5)
    finally:
        consumer.close()
