"""Score each item once, not each impression: a bounded item-score cache for the scoring step.

A safety score depends on the item's content and the model that scored it, and recommendation traffic
repeats items heavily (a few head items take most impressions). The cache is keyed by item id and a
hash of the caption (an edited caption is a new key), stamped with the model version that produced its
scores: when a Triton response names another version, every entry is dropped. Each score handed out
carries the version that produced it, a hit that of the entries it came from, so a batch that spans a
model reload stamps each impression with the model that scored it. It is an LRU with a
time-to-live (`cachetools.TTLCache`, the maintained implementation of exactly that), so memory is
bounded by its size and an entry's age by its TTL. Within one batch an item is scored once however
often it appears. Pure logic, no pyflink.

>>> cache = ScoreCache(max_items=10, ttl_s=60)
>>> plan = cache.plan([("i1", "a cat"), ("i2", "a dog"), ("i1", "a cat"), ("i3", None)])
>>> plan.captions, plan.hits
(['a cat', 'a dog'], 1)
>>> cache.complete(plan, [(0.9,), (0.1,)], versions=["1", "1"])
[(0.9,), (0.1,), (0.9,), None]
>>> later = cache.plan([("i2", "a dog")])
>>> later.captions, cache.complete(later, [], versions=[]), later.versions, cache.stats.hits
([], [(0.1,)], ['1'], 2)
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cachetools import TTLCache

Scores = tuple[float, ...]
Key = tuple[str, bytes]


@dataclass
class CacheStats:
    """Counts since the cache was made; hits + misses = the impressions with a caption looked up."""

    hits: int = 0  # impressions not sent to the model: in the cache, or a repeat of an item earlier in the batch
    misses: int = 0  # items sent to the model
    evictions: int = 0  # least recently used, to stay within max_items
    expirations: int = 0  # older than the TTL
    invalidations: int = 0  # every entry dropped because the model version changed

    @property
    def hit_rate(self) -> float:
        looked_up = self.hits + self.misses
        return self.hits / looked_up if looked_up else 0.0


class _CountingTTLCache(TTLCache):
    """TTLCache that counts what it removes; cachetools calls popitem() to evict and expire() to age out."""

    def __init__(self, maxsize: int, ttl: float, timer: Callable[[], float], stats: CacheStats):
        super().__init__(maxsize, ttl, timer=timer)
        self.stats = stats

    def popitem(self):
        item = super().popitem()
        self.stats.evictions += 1
        return item

    def expire(self, time=None):
        expired = super().expire(time)
        self.stats.expirations += len(expired)
        return expired


def content_hash(caption: str) -> bytes:
    """A 128-bit digest of the caption: stable across processes, so keys mean the same everywhere."""
    return hashlib.blake2b(caption.encode("utf-8"), digest_size=16).digest()


@dataclass
class ScorePlan:
    """One batch's lookups: what the cache had, and the distinct captions left for the model."""

    scores: list[Scores | None]
    captions: list[str] = field(default_factory=list)
    keys: list[Key] = field(default_factory=list)
    # For each caption to score, the batch positions that wait for it.
    waiting: list[list[int]] = field(default_factory=list)
    hits: int = 0  # impressions that need no model call
    # Per position, the model version that produced its scores (None: not scored); hits are the cache's.
    versions: list[str | None] = field(default_factory=list)


class ScoreCache:
    """Item scores by (item id, caption hash), LRU within `max_items`, each entry at most `ttl_s` old."""

    def __init__(self, max_items: int, ttl_s: float, timer: Callable[[], float] = time.monotonic):
        if max_items <= 0 or ttl_s <= 0:
            raise ValueError(f"a score cache needs max_items > 0 and ttl_s > 0, got {max_items} and {ttl_s}")
        self.stats = CacheStats()
        self.model_version: str | None = None
        self._entries = _CountingTTLCache(max_items, ttl_s, timer, self.stats)

    def __len__(self) -> int:
        return len(self._entries)

    def plan(self, items: Sequence[tuple[str, str | None]]) -> ScorePlan:
        """Look up each (item id, caption); an item without a caption is never scored (its score stays None)."""
        plan = ScorePlan(scores=[None] * len(items), versions=[None] * len(items))
        pending: dict[Key, int] = {}
        entries = self._entries
        captioned = 0
        for position, (item_id, caption) in enumerate(items):
            if caption is None:
                continue
            captioned += 1
            key = (item_id, content_hash(caption))
            scores = entries.get(key)
            if scores is not None:
                plan.scores[position] = scores
                plan.versions[position] = self.model_version
                continue
            slot = pending.get(key)
            if slot is None:
                slot = pending[key] = len(plan.captions)
                plan.captions.append(caption)
                plan.keys.append(key)
                plan.waiting.append([])
            plan.waiting[slot].append(position)
        plan.hits = captioned - len(plan.captions)
        self.stats.hits += plan.hits
        self.stats.misses += len(plan.captions)
        return plan

    def complete(self, plan: ScorePlan, scores: Sequence[Scores] | None, versions: Sequence[str] | None) -> list:
        """Fill the plan with the model's scores for `plan.captions` (None: the call failed, they stay unscored)
        and keep them. `versions[i]` names the model version Triton said scored caption i: a version other
        than the cache's first drops every entry, and only the newest version's scores are kept."""
        if scores is None:
            return plan.scores
        if len(scores) != len(plan.captions) or versions is None or len(versions) != len(scores):
            raise ValueError(f"{len(scores)} scores for {len(plan.captions)} captions "
                             f"and {'no' if versions is None else len(versions)} versions")
        if versions and versions[-1] != self.model_version:
            if self.model_version is not None and len(self._entries):
                self.stats.invalidations += 1
                self._entries.clear()
            self.model_version = versions[-1]
        for key, positions, item_scores, version in zip(plan.keys, plan.waiting, scores, versions):
            item_scores = tuple(item_scores)
            if version == self.model_version:
                self._entries[key] = item_scores
            for position in positions:
                plan.scores[position] = item_scores
                plan.versions[position] = version
        return plan.scores
