"""The policies topic's records as publications, and which policy is active. Pure logic, no pyflink, no Kafka.

Every publication is an Avro record of `schemas/policy/` in the single-object encoding, keyed
`version@created_at_ms`, so compaction keeps every one of them: the topic is the history. The active
policy is the newest publication in enforce mode that passes validation; a record that does not decode
or validate (forced onto the topic by another writer) is kept with its error and never becomes active.
The CLI (`riskstream policy`) and the job read the topic through the same two functions.
"""
from __future__ import annotations

import bisect
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


class PolicyTimeline:
    """Which policy judges an impression, by the impression's event time, as the topic's records arrive.

    Each valid enforce publication judges the impressions from its `created_at_ms` on (never from before
    an earlier publication's start: topic order wins over a publisher's clock), until the next one; the
    first also judges everything before it, and `starting` stands in until the topic names any. So a
    replay of the same impressions is judged the same way whenever it runs.

    >>> from udfs.policy import Policy
    >>> timeline = PolicyTimeline(Policy("p0", {"spam": 0.9}), "policies", ("spam",))
    >>> _, first = encode(Policy("p1", {"spam": 0.8}, created_at_ms=1_000), ("spam",))
    >>> _, second = encode(Policy("p2", {"spam": 0.5}, created_at_ms=5_000), ("spam",))
    >>> [p.version for p in timeline.add([(0, b"p1@1000", first), (1, b"p2@5000", second)])]
    ['p1', 'p2']
    >>> [timeline.at(t).version for t in (0, 4_999, 5_000, 9_000)], timeline.latest.version
    (['p1', 'p1', 'p2', 'p2'], 'p2')
    """

    def __init__(self, starting: Policy, topic: str, categories: tuple[str, ...] | None):
        self.topic = topic
        self.categories = categories
        self.publications: list[Publication] = []
        self._starts: list[int] = []
        self._policies: list[Policy] = [starting]
        self._shadow_starts: list[int] = []
        self._shadows: list[Policy] = []

    @property
    def latest(self) -> Policy:
        return self._policies[-1]

    @property
    def constant(self) -> bool:
        """True while one policy judges every event time and no shadow is evaluated."""
        return len(self._policies) == 1 and not self._shadows

    def add(self, records) -> list[Policy]:
        """Take (offset, key, value) records in topic order; returns the policies that now take effect."""
        taken = []
        for offset, key, value in records:
            publication = decode(offset, key, value, self.topic, self.categories)
            self.publications.append(publication)
            policy = publication.policy
            if policy is None:
                continue
            if policy.mode == "shadow":
                self._shadow_starts.append(max(policy.created_at_ms, self._shadow_starts[-1] if self._shadow_starts
                                               else policy.created_at_ms))
                self._shadows.append(policy)
                taken.append(policy)
                continue
            if not self._starts:
                self._policies = []
            self._starts.append(max(policy.created_at_ms, self._starts[-1] if self._starts else policy.created_at_ms))
            self._policies.append(policy)
            taken.append(policy)
        return taken

    def at(self, event_time_ms: int) -> Policy:
        """The policy that judges an impression of this event time."""
        if len(self._policies) == 1:
            return self._policies[0]
        return self._policies[max(0, bisect.bisect_right(self._starts, event_time_ms) - 1)]

    def shadow_at(self, event_time_ms: int) -> Policy | None:
        """The shadow policy evaluated beside `at(event_time_ms)`: the newest shadow publication from its
        `created_at` on, until a newer shadow; none while its own version is the one in force (promoted)."""
        index = bisect.bisect_right(self._shadow_starts, event_time_ms) - 1
        if index < 0:
            return None
        shadow = self._shadows[index]
        if self.at(event_time_ms).version == shadow.version:
            return None
        return shadow
