"""Safety-health aggregates of one window and one slice (surface x region x model version x category).

Pure logic: the Flink job feeds it, tests check it without a JVM. Quantiles come from an Apache
DataSketches KLL sketch (mergeable, bounded error; exact while a window holds fewer than k=200 scores),
so tumbling windows merge into sliding ones and the serialized sketch is kept with each row.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
from datasketches import kll_floats_sketch

from riskstream.core.rows import DIMENSIONS
from udfs.policy import Policy
from udfs.shadow import ShadowTally

QUANTILES = (0.5, 0.95, 0.99)
SKETCH_K = 200
TOP_UNSAFE_ITEMS = 10


class WindowAccumulator:
    """Everything one window of one slice needs; `add` one impression, `merge` another accumulator."""

    def __init__(self) -> None:
        self.impressions = 0
        self.scored = 0
        self.unsafe = 0
        self.unsafe_by_category: dict[str, int] = {}
        self.harm = 0.0
        self.harm_by_category: dict[str, float] = {}
        # Scores wait in a list until the sketch is needed: an accumulator of a few impressions (a batch's
        # partial) then never builds one, and the sketch still sees every score in arrival order.
        self._sketch: kll_floats_sketch | None = None
        self._scores: list[float] = []
        self.items: set[str] = set()
        self.creators: set[str] = set()
        self.unsafe_items: dict[str, list] = {}  # item_id -> [unsafe impressions, max score]
        self.offsets: dict[int, list[int]] = {}   # partition -> [first, last]
        # The policies its impressions were judged by, in the order they were first seen.
        self.policy_versions: list[str] = []
        self.shadows: dict[str, ShadowTally] = {}  # shadow policy version -> its judgement beside them

    def add(self, item_id: str, creator_id: str, partition: int, offset: int,
            scores: list[float] | None, categories: tuple[str, ...], policy: Policy) -> bool:
        """Count one impression; returns whether the policy judged it unsafe."""
        self.impressions += 1
        self.items.add(item_id)
        self.creators.add(creator_id)
        span = self.offsets.setdefault(partition, [offset, offset])
        span[0], span[1] = min(span[0], offset), max(span[1], offset)
        if scores is None:
            return False
        self.scored += 1
        top = max(scores)
        self._scores.append(top)
        self.harm += top
        for category, score in zip(categories, scores):
            self.harm_by_category[category] = self.harm_by_category.get(category, 0.0) + score
        unsafe = policy.unsafe_categories(categories, scores)
        if unsafe:
            self.unsafe += 1
            for category in unsafe:
                self.unsafe_by_category[category] = self.unsafe_by_category.get(category, 0) + 1
            entry = self.unsafe_items.setdefault(item_id, [0, 0.0])
            entry[0] += 1
            entry[1] = max(entry[1], top)
        return bool(unsafe)

    def merge(self, other: "WindowAccumulator") -> None:
        # Accumulators pickled in a checkpoint before policy versions were kept have none.
        mine = self.__dict__.setdefault("policy_versions", [])
        for version in getattr(other, "policy_versions", ()):
            if version not in mine:
                mine.append(version)
        shadows = self.__dict__.setdefault("shadows", {})
        for version, tally in getattr(other, "shadows", {}).items():
            shadows.setdefault(version, ShadowTally()).merge(tally)
        self.impressions += other.impressions
        self.scored += other.scored
        self.unsafe += other.unsafe
        for category, count in other.unsafe_by_category.items():
            self.unsafe_by_category[category] = self.unsafe_by_category.get(category, 0) + count
        self.harm += other.harm
        for category, harm in other.harm_by_category.items():
            self.harm_by_category[category] = self.harm_by_category.get(category, 0.0) + harm
        if other._sketch is None:
            self._scores.extend(other._scores)
        else:
            self.sketch.merge(other.sketch)
        self.items |= other.items
        self.creators |= other.creators
        for item, (count, score) in other.unsafe_items.items():
            entry = self.unsafe_items.setdefault(item, [0, 0.0])
            entry[0] += count
            entry[1] = max(entry[1], score)
        for partition, (first, last) in other.offsets.items():
            span = self.offsets.setdefault(partition, [first, last])
            span[0], span[1] = min(span[0], first), max(span[1], last)

    @property
    def sketch(self) -> kll_floats_sketch:
        """The KLL sketch of every score so far."""
        if self._sketch is None:
            self._sketch = kll_floats_sketch(SKETCH_K)
        if self._scores:
            self._sketch.update(np.asarray(self._scores, dtype=np.float32))
            self._scores = []
        return self._sketch

    def extend_scores(self, scores: list[float]) -> None:
        """Scores whose impressions another accumulator counted (a batch's partial), in arrival order."""
        if self._sketch is None:
            self._scores.extend(scores)
        else:
            self._sketch.update(np.asarray(scores, dtype=np.float32))

    @property
    def pending_scores(self) -> list[float]:
        """Scores not yet in a sketch, in arrival order (all of them while no sketch was needed)."""
        return self._scores if self._sketch is None else []

    def metrics(self) -> dict:
        """The row's metric columns, in ClickHouse-ready Python types."""
        # inclusive ranks: the nearest-rank definition (numpy method="inverted_cdf")
        quantiles = self.sketch.get_quantiles(list(QUANTILES), True) if self.scored else [None] * len(QUANTILES)
        top = heapq.nsmallest(TOP_UNSAFE_ITEMS, self.unsafe_items.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]))
        return {
            "impressions": self.impressions,
            "scored": self.scored,
            "unscored": self.impressions - self.scored,
            "unsafe": self.unsafe,
            "unsafe_by_category": dict(self.unsafe_by_category),
            "harm": self.harm,
            "harm_by_category": dict(self.harm_by_category),
            "score_p50": None if quantiles[0] is None else float(quantiles[0]),
            "score_p95": None if quantiles[1] is None else float(quantiles[1]),
            "score_p99": None if quantiles[2] is None else float(quantiles[2]),
            "score_sketch": bytes(self.sketch.serialize()),
            "distinct_items": len(self.items),
            "distinct_creators": len(self.creators),
            "top_unsafe_items": [(item, count, float(score)) for item, (count, score) in top],
            "offset_ranges": [(p, first, last) for p, (first, last) in sorted(self.offsets.items())],
        }

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        del state["_sketch"], state["_scores"]
        state["sketch"] = bytes(self.sketch.serialize())
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        state.pop("emitted_through", None)  # held in the accumulator by checkpoints before it had its own state
        state["_sketch"] = kll_floats_sketch.deserialize(state.pop("sketch"))
        state["_scores"] = []
        self.__dict__.update(state)


HEALTH_COLUMNS = (
    "window_start", "window_end", "window_seconds", *DIMENSIONS,
    "impressions", "scored", "unscored", "unsafe", "unsafe_by_category", "harm", "harm_by_category",
    "score_p50", "score_p95", "score_p99", "score_sketch", "distinct_items", "distinct_creators",
    "top_unsafe_items", "offset_ranges", "job_id", "model_name", "model_version", "policy_version", "revision",
)


@dataclass(frozen=True)
class Lineage:
    """What every row is traceable to."""

    job_id: str
    model_name: str
    model_version: str
    policy_version: str  # the policy at start: a row whose accumulator names none was judged by it


def health_row(window_start: int, window_ms: int, dims: tuple[str, ...], accumulator: WindowAccumulator,
               lineage: Lineage) -> list:
    """One safety_health row; `revision` (the impression count) lets a fuller re-emission win."""
    metrics = accumulator.metrics()
    values = {
        "window_start": window_start, "window_end": window_start + window_ms, "window_seconds": window_ms // 1000,
        **dict(zip(DIMENSIONS, dims)), **metrics,
        "job_id": lineage.job_id, "model_name": lineage.model_name, "model_version": lineage.model_version,
        "policy_version": ",".join(getattr(accumulator, "policy_versions", None) or [lineage.policy_version]),
        "revision": accumulator.impressions,
    }
    return [values[column] for column in HEALTH_COLUMNS]
