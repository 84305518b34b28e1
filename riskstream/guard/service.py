"""The guard's state: verdicts, breakers and the policy in force, followed from their compacted topics."""
from __future__ import annotations

import logging

from riskstream.core import schemas
from riskstream.core.config import KafkaSettings
from riskstream.core.guard_config import GuardSettings
from riskstream.io.compacted import CompactedFollower, Freshness
from udfs import guard, policy_log
from udfs.policy import Policy
from udfs.wire import AvroDecoder, SchemaHistory

log = logging.getLogger(__name__)


def _decoder(folder) -> AvroDecoder:
    history = SchemaHistory.from_folder(folder)
    return AvroDecoder(history.latest, history)


class Guard:
    """Holds the view; `decide()` answers from it, judging its freshness on every call."""

    def __init__(self, kafka: KafkaSettings, settings: GuardSettings, group_id: str = "riskstream-guard"):
        self.kafka = kafka
        self.settings = settings
        self.view = guard.GuardView()
        self.policy: Policy | None = None
        self.policies_rejected = 0
        self._verdicts = _decoder(schemas.VERDICT_HISTORY)
        self._breakers = _decoder(schemas.BREAKER_HISTORY)
        self.follower = CompactedFollower(kafka, {
            kafka.item_verdicts_topic: self._on_verdict,
            kafka.breaker_state_topic: self._on_breaker,
            kafka.policies_topic: self._on_policy,
        }, group_id)

    def start(self) -> None:
        """Start reading (fails fast, naming the broker, when Kafka cannot be reached)."""
        self.follower.start()

    def stop(self) -> None:
        self.follower.stop()

    def freshness(self) -> Freshness:
        return self.follower.freshness()

    def stale(self, freshness: Freshness | None = None) -> bool:
        freshness = freshness or self.freshness()
        return freshness.age_s is None or freshness.age_s > self.settings.max_staleness_s

    def decide(self, request: guard.Request) -> guard.Answer:
        return guard.decide(self.view, request, self.policy, self.stale(),
                            self.settings.fail_mode(request.surface))

    def _on_verdict(self, offset: int, key: bytes | None, value: bytes | None) -> None:
        if value is None:
            if key is not None:
                self.view.forget_verdict(key.decode("utf-8"))
            return
        self.view.apply_verdict(self._verdicts.decode(value))

    def _on_breaker(self, offset: int, key: bytes | None, value: bytes | None) -> None:
        if value is not None:
            self.view.apply_breaker(self._breakers.decode(value))

    def _on_policy(self, offset: int, key: bytes | None, value: bytes | None) -> None:
        # Categories are the job's business (it checks them against the model); the guard takes the
        # policy as published, and ignores a record that is not a valid one, as the job does.
        publication = policy_log.decode(offset, key, value, self.kafka.policies_topic, None)
        if publication.policy is None:
            self.policies_rejected += 1
            log.warning("policies offset %d ignored: %s", offset, publication.error)
        elif publication.policy.mode == "enforce":
            self.policy = publication.policy
            log.info("policy %s in force (offset %d)", self.policy.version, offset)
