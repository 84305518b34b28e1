"""The policies topic's records as publications, and which policy is active. Pure logic, no pyflink, no Kafka.

Every publication is an Avro record of `schemas/policy/` in the single-object encoding, keyed
`version@created_at_ms`, so compaction keeps every one of them: the topic is the history. The active
policy is the newest publication in enforce mode that passes validation; a record that does not decode
or validate (forced onto the topic by another writer) is kept with its error and never becomes active.
The CLI (`riskstream policy`) and the job read the topic through the same two functions.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

from riskstream.core import schemas
from riskstream.core.errors import PolicyError
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


@functools.lru_cache(maxsize=1)
def codec() -> tuple[Encoder, AvroDecoder]:
    """The encoder of the newest policy schema, and a decoder that reads every version of it."""
    history = SchemaHistory.from_folder(schemas.POLICY_HISTORY)
    return Encoder(history.latest, WireFormat.SINGLE_OBJECT), AvroDecoder(history.latest, history)


def encode(policy: Policy, categories: tuple[str, ...] | None) -> tuple[str, bytes]:
    """(key, value) of a publication, checked as a reader of the topic will check it."""
    encoder, decoder = codec()
    value = encoder.encode(policies.to_record(policy))
    policies.from_record(decoder.decode(value), "publish", categories)
    return f"{policy.version}@{policy.created_at_ms}", value


def decode(offset: int, key: bytes | None, value: bytes | None, topic: str,
           categories: tuple[str, ...] | None) -> Publication:
    """A topic record as a publication; whatever is wrong with it goes into `error`, never raised."""
    text_key = (key or b"").decode("utf-8", "replace")
    source = f"{topic} offset {offset}"
    if value is None:
        return Publication(offset, text_key, None, "tombstone")
    try:
        return Publication(offset, text_key, policies.from_record(codec()[1].decode(value), source, categories))
    except PolicyError as exc:
        return Publication(offset, text_key, None, str(exc))
    except Exception as exc:  # noqa: BLE001 - whatever another writer put there, the history lists it
        return Publication(offset, text_key, None, f"{source}: not a policy record: {exc}")


def decode_all(records, topic: str, categories: tuple[str, ...] | None) -> list[Publication]:
    """Records with .offset, .key and .value, in topic order, as publications."""
    return [decode(r.offset, r.key, r.value, topic, categories) for r in records]


def active(found: list[Publication]) -> Policy | None:
    """The newest valid publication in enforce mode (shadow policies never become active)."""
    for publication in reversed(found):
        if publication.policy is not None and publication.policy.mode == "enforce":
            return publication.policy
    return None


class ActivePolicy:
    """The policy in force as the topic's records arrive: `starting` until the topic names an active one.

    >>> from udfs.policy import Policy
    >>> tracker = ActivePolicy(Policy("p1", {"spam": 0.8}), "policies", ("spam",))
    >>> _, value = encode(Policy("p2", {"spam": 0.5}, created_at_ms=1), ("spam",))
    >>> tracker.add([(0, b"p2@1", value)]).version, tracker.policy.version
    ('p2', 'p2')
    >>> tracker.add([(1, b"x", b"garbage")]) is None, tracker.policy.version, len(tracker.publications)
    (True, 'p2', 2)
    """

    def __init__(self, starting: Policy, topic: str, categories: tuple[str, ...] | None):
        self.policy = starting
        self.topic = topic
        self.categories = categories
        self.publications: list[Publication] = []

    def add(self, records) -> Policy | None:
        """Take (offset, key, value) records in topic order; returns the new active policy if it changed."""
        if not records:
            return None
        self.publications.extend(decode(offset, key, value, self.topic, self.categories)
                                 for offset, key, value in records)
        newest = active(self.publications)
        if newest is None or newest == self.policy:
            return None
        self.policy = newest
        return newest
