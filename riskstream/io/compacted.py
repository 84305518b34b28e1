"""Follow compacted topics from their first record on a thread of their own, and say how fresh the view is.

A reader of a compacted topic holds "the newest record per key": it must read from the beginning at
start (a restart restores everything) and keep up after. Freshness is measured, not assumed: every
`check_every_s` the follower asks the brokers for each partition's end offset; once it has consumed up
to those offsets, its view is known to be as fresh as the moment it asked (`fresh_as_of`). With records
arriving all the time it is never "at the end", but it keeps passing the ends it was shown. When the
brokers cannot be reached, the asking fails, `fresh_as_of` stops moving, and the view's age grows:
readers decide what a stale view means for them.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from riskstream.io import kafka_admin
from riskstream.io.kafka_clients import Kafka, address, config

log = logging.getLogger(__name__)
_QUIET = logging.getLogger("riskstream.io.compacted.librdkafka")
_QUIET.setLevel(logging.CRITICAL)

# (offset, key, value) of one record; a handler may raise, which counts the record as skipped.
Handler = Callable[[int, bytes | None, bytes | None], None]


@dataclass(frozen=True)
class Freshness:
    caught_up: bool  # the view has reached the topics' ends at least once since start
    age_s: float | None  # seconds since the newest moment the view is known to have been complete
    records_behind: int  # at the last end-offset check
    records_read: int
    records_skipped: int  # a handler refused them (undecodable)
    last_error: str


class CompactedFollower:
    """Reads `handlers`' topics (every partition, from the first offset) and keeps up, until `stop()`."""

    def __init__(self, bootstrap: Kafka, handlers: dict[str, Handler], group_id: str, check_every_s: float = 1.0):
        self.bootstrap = bootstrap
        self.handlers = handlers
        self.group_id = group_id
        self.check_every_s = check_every_s
        self._consumer: Consumer | None = None
        self._admin: AdminClient | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._caught_up = threading.Event()
        self._next: dict[tuple[str, int], int] = {}
        self._pending: list[tuple[float, dict[tuple[str, int], int]]] = []  # (asked at, end offsets then)
        self._fresh_as_of: float | None = None
        self._behind = 0
        self._read = 0
        self._skipped = 0
        self._last_error = ""

    def start(self) -> None:
        """Fails fast, naming the address, when no broker answers; otherwise reads on in the background."""
        kafka_admin.require_ready(self.bootstrap)
        self._consumer = Consumer(config(self.bootstrap, {"group.id": self.group_id, "enable.auto.commit": False,
                                                          "enable.partition.eof": False}), logger=_QUIET)
        metadata = self._consumer.list_topics(timeout=10)
        partitions = []
        for topic in self.handlers:
            found = metadata.topics.get(topic)
            if found is None or found.error is not None:
                raise KafkaException(f"topic {topic} not found on {address(self.bootstrap)}")
            partitions += [TopicPartition(topic, p, OFFSET_BEGINNING) for p in sorted(found.partitions)]
        self._consumer.assign(partitions)
        self._admin = AdminClient(config(self.bootstrap), logger=_QUIET)
        self._thread = threading.Thread(target=self._run, name="compacted-follower", daemon=True)
        self._thread.start()

    def wait_caught_up(self, timeout_s: float) -> bool:
        return self._caught_up.wait(timeout_s)

    def freshness(self) -> Freshness:
        fresh = self._fresh_as_of
        return Freshness(self._caught_up.is_set(), None if fresh is None else time.monotonic() - fresh,
                         self._behind, self._read, self._skipped, self._last_error)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    def _run(self) -> None:
        last_check = 0.0
        while not self._stopping.is_set():
            for message in self._consumer.consume(num_messages=1000, timeout=0.1):
                if message.error():
                    self._last_error = str(message.error())
                    continue
                self._take(message)
            if time.monotonic() - last_check >= self.check_every_s:
                last_check = time.monotonic()
                self._ask_ends()
            self._settle()

    def _take(self, message) -> None:
        self._next[(message.topic(), message.partition())] = message.offset() + 1
        self._read += 1
        try:
            self.handlers[message.topic()](message.offset(), message.key(), message.value())
        except Exception as exc:  # noqa: BLE001 - what another writer put on the topic never stops the reader
            self._skipped += 1
            log.warning("%s partition %d offset %d skipped: %s", message.topic(), message.partition(),
                        message.offset(), exc)

    def _ask_ends(self) -> None:
        # An admin client of its own: the consumer's own offset queries wait behind its long-polling fetches.
        asked_at = time.monotonic()
        partitions = [TopicPartition(tp.topic, tp.partition) for tp in self._consumer.assignment()]
        try:
            ends = self._list_offsets(partitions, OffsetSpec.latest())
            unseen = [tp for tp in partitions if (tp.topic, tp.partition) not in self._next]
            # Compaction or retention may have removed the first offsets: count from the low mark.
            for key, low in (self._list_offsets(unseen, OffsetSpec.earliest()) if unseen else {}).items():
                self._next.setdefault(key, low)
        except KafkaException as exc:
            self._last_error = f"{address(self.bootstrap)}: {exc}"
            # A restarted broker fences the admin client's cached leader epochs; a new client asks afresh.
            self._admin = AdminClient(config(self.bootstrap), logger=_QUIET)
            return
        self._last_error = ""
        self._pending.append((asked_at, ends))

    def _list_offsets(self, partitions: list[TopicPartition], spec: OffsetSpec) -> dict[tuple[str, int], int]:
        futures = self._admin.list_offsets({tp: spec for tp in partitions}, request_timeout=self.check_every_s)
        return {(tp.topic, tp.partition): future.result().offset for tp, future in futures.items()}

    def _settle(self) -> None:
        """Move `fresh_as_of` to the newest check whose end offsets have all been consumed."""
        while self._pending:
            asked_at, ends = self._pending[0]
            # The fetch position also passes records the application never sees (transaction markers).
            for position in self._consumer.position(self._consumer.assignment()):
                key = (position.topic, position.partition)
                if position.offset >= 0 and position.offset > self._next.get(key, 0):
                    self._next[key] = position.offset
            behind = sum(max(0, end - self._next.get(key, 0)) for key, end in ends.items())
            self._behind = behind
            if behind:
                return
            self._pending.pop(0)
            self._fresh_as_of = asked_at
            self._caught_up.set()
