"""The policies topic as the job's operators follow it: the whole history at open, then whatever is new."""
from __future__ import annotations

import logging

from riskstream.core.config import KafkaSettings
from riskstream.io.policy_topic import Follower
from udfs.policy import Policy
from udfs.policy_log import PolicyTimeline

log = logging.getLogger(__name__)


class PolicyFeed:
    """Made in an operator's open() (client there, closed in close()); `timeline()` polls without waiting."""

    def __init__(self, kafka: KafkaSettings | None, group_id: str, starting: Policy, categories: tuple[str, ...]):
        self.kafka = kafka
        self.group_id = group_id
        self.follower: Follower | None = None
        self._timeline = PolicyTimeline(starting, kafka.policies_topic if kafka else "", categories)

    def open(self) -> None:
        """Read the topic's whole history (a restart too); without Kafka settings the starting policy stays."""
        if self.kafka is None:
            return
        self.follower = Follower(self.kafka, group_id=self.group_id)
        self._timeline.add([(r.offset, r.key, r.value) for r in self.follower.open()])
        log.info("policy %s newest of %d on %s", self._timeline.latest.version, len(self._timeline.publications),
                 self.kafka.policies_topic)

    def timeline(self) -> PolicyTimeline:
        """The timeline with every publication the topic has delivered by now."""
        if self.follower is not None:
            for policy in self._timeline.add([(r.offset, r.key, r.value) for r in self.follower.poll()]):
                log.info("policy %s (%s) judges impressions from event time %d on (author %s: %s)", policy.version,
                         policy.mode, policy.created_at_ms, policy.author, policy.reason)
        return self._timeline

    def close(self) -> None:
        if self.follower is not None:
            self.follower.close()
            self.follower = None
