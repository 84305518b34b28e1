"""The forget-requests topic as the job's decode steps follow it: every request there is before the first
record is decoded, then each new one within about a second, on a thread of its own."""
from __future__ import annotations

import logging

from riskstream.core.config import KafkaSettings
from riskstream.core.errors import ServiceUnavailable
from riskstream.io.compacted import CompactedFollower
from udfs.forget import Forgotten

log = logging.getLogger(__name__)


class ForgetFeed:
    """Made in an operator's open() and stopped in its close(); `forgotten` is the live suppression list."""

    def __init__(self, kafka: KafkaSettings | None, group_id: str, wait_s: float = 30.0):
        self.kafka = kafka
        self.group_id = group_id
        self.wait_s = wait_s
        self.forgotten = Forgotten()
        self.follower: CompactedFollower | None = None

    def open(self) -> None:
        """Read every request on the topic; a job that cannot fails rather than let a forgotten id through."""
        if self.kafka is None:
            return
        topic = self.kafka.forget_requests_topic
        self.follower = CompactedFollower(self.kafka,
                                          {topic: lambda _offset, key, value: self.forgotten.add(key, value)},
                                          self.group_id)
        self.follower.start()
        if not self.follower.wait_caught_up(self.wait_s):
            self.close()
            raise ServiceUnavailable("Kafka", self.kafka.bootstrap_servers,
                                     f"the forget requests on {topic} were not all read within {self.wait_s:.0f} s")
        log.info("%d viewers, %d creators and %d items forgotten (%s)", len(self.forgotten.viewers),
                 len(self.forgotten.creators), len(self.forgotten.items), topic)

    def close(self) -> None:
        if self.follower is not None:
            self.follower.stop()
            self.follower = None
