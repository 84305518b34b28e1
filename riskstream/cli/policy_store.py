"""Published safety policies: publish, read the history, find the active one, roll back (`riskstream policy`).

One partition, one order of publication; what a record means and which policy is active is
`udfs.policy_log`'s business, shared with the job.
"""
from __future__ import annotations

import time
from dataclasses import replace

from riskstream.core.config import KafkaSettings
from riskstream.core.errors import PolicyError
from riskstream.io import policy_topic
from udfs import policy_log
from udfs.policy import Policy
from udfs.policy_log import Publication, active

__all__ = ["Publication", "active", "history", "publish", "rollback"]


def history(kafka: KafkaSettings, categories: tuple[str, ...] | None = None) -> list[Publication]:
    """Every publication on the topic, oldest first."""
    return policy_log.decode_all(policy_topic.read_all(kafka), kafka.policies_topic, categories)


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
    key, value = policy_log.encode(published, categories)
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
