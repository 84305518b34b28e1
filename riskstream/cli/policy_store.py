"""Published safety policies: publish, read the history, find the active one, roll back (`riskstream policy`).

One partition, one order of publication. Every publication is an Avro record of `schemas/policy/` in the
single-object encoding, keyed `version@created_at_ms`, so compaction keeps every one of them: the topic is
the history. The active policy is the newest publication in enforce mode that passes validation; a record
that does not decode or validate (forced onto the topic by another writer) is listed in the history
with its error and never becomes active.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace

from riskstream.core import schemas
from riskstream.core.config import KafkaSettings
from riskstream.core.errors import PolicyError
from riskstream.io import policy_topic
from riskstream.io.policy_topic import TopicRecord
from udfs import policy as policies
from udfs.policy import Policy
from udfs.wire import AvroDecoder, Encoder, SchemaHistory, WireFormat


@dataclass(frozen=True)
class Publication:
    """One record of the policies topic: its offset, and the policy or why it is not one."""

    offset: int
    key: str
    policy: Policy | None
    error: str | None = None


def _history_codec() -> tuple[Encoder, AvroDecoder]:
    history = SchemaHistory.from_folder(schemas.POLICY_HISTORY)
    return Encoder(history.latest, WireFormat.SINGLE_OBJECT), AvroDecoder(history.latest, history)


def history(kafka: KafkaSettings, categories: tuple[str, ...] | None = None) -> list[Publication]:
    """Every publication on the topic, oldest first."""
    _, decoder = _history_codec()
    return [_publication(record, decoder, kafka.policies_topic, categories) for record in policy_topic.read_all(kafka)]


def _publication(record: TopicRecord, decoder: AvroDecoder, topic: str, categories: tuple[str, ...] | None
                 ) -> Publication:
    key = (record.key or b"").decode("utf-8", "replace")
    source = f"{topic} offset {record.offset}"
    if record.value is None:
        return Publication(record.offset, key, None, "tombstone")
    try:
        return Publication(record.offset, key, policies.from_record(decoder.decode(record.value), source, categories))
    except PolicyError as exc:
        return Publication(record.offset, key, None, str(exc))
    except Exception as exc:  # noqa: BLE001 - whatever another writer put there, the history lists it
        return Publication(record.offset, key, None, f"{source}: not a policy record: {exc}")


def active(found: list[Publication]) -> Policy | None:
    """The newest valid publication in enforce mode (shadow policies never become active)."""
    for publication in reversed(found):
        if publication.policy is not None and publication.policy.mode == "enforce":
            return publication.policy
    return None


def publish(kafka: KafkaSettings, policy: Policy, author: str, reason: str,
            categories: tuple[str, ...] | None = None) -> Publication:
    """Validate, refuse a version already published with other rules, and append it; returns its record."""
    found = history(kafka, categories)
    for old in found:
        if old.policy is not None and old.policy.version == policy.version and old.policy.rules() != policy.rules():
            raise PolicyError("publish", None, f"version {policy.version!r} was already published (offset "
                              f"{old.offset}) with other rules; give this policy a new version", field="version")
    return _append(kafka, policy, author, reason, categories, rollback_of=None)


def _append(kafka: KafkaSettings, policy: Policy, author: str, reason: str, categories: tuple[str, ...] | None,
            rollback_of: str | None) -> Publication:
    if not reason.strip():
        raise PolicyError("publish", None, "a reason is required (it goes into the history and the audit)",
                          field="reason")
    published = replace(policy, author=author, reason=reason, created_at_ms=int(time.time() * 1000),
                        rollback_of=rollback_of)
    encoder, decoder = _history_codec()
    value = encoder.encode(policies.to_record(published))
    # Checked as a reader of the topic will check it: decoded by the schema, then the policy rules.
    policies.from_record(decoder.decode(value), "publish", categories)
    key = f"{published.version}@{published.created_at_ms}"
    offset = policy_topic.append(kafka, key.encode(), value, published.created_at_ms)
    return Publication(offset, key, published)


def rollback(kafka: KafkaSettings, version: str, author: str, reason: str,
             categories: tuple[str, ...] | None = None) -> Publication:
    """Publish again the newest valid publication of `version`, marked as a rollback of the active one."""
    found = history(kafka, categories)
    target = next((p.policy for p in reversed(found) if p.policy is not None and p.policy.version == version), None)
    if target is None:
        raise PolicyError("rollback", None, f"no valid publication of version {version!r} on {kafka.policies_topic}",
                          field="version")
    current = active(found)
    return _append(kafka, replace(target, mode="enforce"), author, reason, categories,
                   rollback_of=current.version if current else "")
