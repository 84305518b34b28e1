"""Safety-health aggregates of one window and one slice (surface x region x model version x category).

Pure logic: the Flink job feeds it, tests check it without a JVM. Quantiles come from DDSketch buckets
with exact counts (udfs.score_histogram: within 0.5% of the exact quantile, the same whatever the order
or grouping of the items), so tumbling windows merge into sliding ones, two runs agree, and the
histogram kept with each row merges over any selection in ClickHouse.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass

from riskstream.core.rows import DIMENSIONS
from udfs.policy import Policy
from udfs.score_histogram import ScoreHistogram, bucket_key  # bucket_key: reading old checkpoints
from udfs.shadow import ShadowTally

QUANTILES = (0.5, 0.95, 0.99)
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
        self.histogram = ScoreHistogram()  # each scored impression's highest score
        # Per viewer cohort ("age band|locale") and creator cohort: [scored, unsafe, harm] of scored impressions.
        self.viewer_cohorts: dict[str, list] = {}
        self.creator_cohorts: dict[str, list] = {}
        self.first_event_ms: int | None = None  # the earliest event time counted (None: not known)
        self.items: set[str] = set()
        self.creators: set[str] = set()
        self.unsafe_items: dict[str, list] = {}  # item_id -> [unsafe impressions, max score]
        self.offsets: dict[int, list[int]] = {}   # partition -> [first, last]
        # The policies its impressions were judged by, in the order they were first seen.
        self.policy_versions: list[str] = []
        # Scored impressions per safety-model version that scored them (a reload mid-window gives two).
        self.model_versions: dict[str, int] = {}
        self.shadows: dict[str, ShadowTally] = {}  # shadow policy version -> its judgement beside them

    def add(self, item_id: str, creator_id: str, partition: int, offset: int,
            scores: list[float] | None, categories: tuple[str, ...], policy: Policy,
            event_time: int | None = None, viewer_cohort: str = "unknown|unknown",
            creator_cohort: str = "unknown", model_version: str | None = None) -> bool:
        """Count one impression; returns whether the policy judged it unsafe. `model_version` names the
        model that produced `scores` (None: not known, counted under none)."""
        self.impressions += 1
        if event_time is not None and (self.first_event_ms is None or event_time < self.first_event_ms):
            self.first_event_ms = event_time
        self.items.add(item_id)
        self.creators.add(creator_id)
        span = self.offsets.setdefault(partition, [offset, offset])
        span[0], span[1] = min(span[0], offset), max(span[1], offset)
        if scores is None:
            return False
        self.scored += 1
        if model_version is not None:
            self.model_versions[model_version] = self.model_versions.get(model_version, 0) + 1
        top = max(scores)
        self.histogram.add_one(top)
        self.harm += top
        for category, score in zip(categories, scores):
            self.harm_by_category[category] = self.harm_by_category.get(category, 0.0) + score
        unsafe = policy.unsafe_categories(categories, scores)
        hit = 1 if unsafe else 0
        _tally(self.viewer_cohorts, viewer_cohort, 1, hit, top)
        _tally(self.creator_cohorts, creator_cohort, 1, hit, top)
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
        versions = self.__dict__.setdefault("model_versions", {})
        for version, scored in getattr(other, "model_versions", {}).items():
            versions[version] = versions.get(version, 0) + scored
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
        self.histogram.merge(other.histogram)
        for mine, theirs in ((self.viewer_cohorts, other.viewer_cohorts), (self.creator_cohorts, other.creator_cohorts)):
            for cohort, (scored, unsafe, harm) in theirs.items():
                _tally(mine, cohort, scored, unsafe, harm)
        if other.first_event_ms is not None and (self.first_event_ms is None or other.first_event_ms < self.first_event_ms):
            self.first_event_ms = other.first_event_ms
        self.items |= other.items
        self.creators |= other.creators
        for item, (count, score) in other.unsafe_items.items():
            entry = self.unsafe_items.setdefault(item, [0, 0.0])
            entry[0] += count
            entry[1] = max(entry[1], score)
        for partition, (first, last) in other.offsets.items():
            span = self.offsets.setdefault(partition, [first, last])
            span[0], span[1] = min(span[0], first), max(span[1], last)

    def metrics(self) -> dict:
        """The row's metric columns, in ClickHouse-ready Python types."""
        # inclusive ranks: the nearest-rank definition (numpy method="inverted_cdf")
        quantiles = self.histogram.quantiles(QUANTILES)
        top = heapq.nsmallest(TOP_UNSAFE_ITEMS, self.unsafe_items.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]))
        return {
            "impressions": self.impressions,
            "scored": self.scored,
            "unscored": self.impressions - self.scored,
            "unsafe": self.unsafe,
            "unsafe_by_category": dict(self.unsafe_by_category),
            "harm": self.harm,
            "harm_by_category": dict(self.harm_by_category),
            **_cohort_maps("viewer_cohort", self.viewer_cohorts),
            **_cohort_maps("creator_cohort", self.creator_cohorts),
            "score_p50": None if quantiles[0] is None else float(quantiles[0]),
            "score_p95": None if quantiles[1] is None else float(quantiles[1]),
            "score_p99": None if quantiles[2] is None else float(quantiles[2]),
            "score_histogram": self.histogram.as_map(),
            "distinct_items": len(self.items),
            "distinct_creators": len(self.creators),
            "top_unsafe_items": [(item, count, float(score)) for item, (count, score) in top],
            "scored_by_model_version": dict(self.model_versions),
            "offset_ranges": [(p, first, last) for p, (first, last) in sorted(self.offsets.items())],
        }

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["histogram"] = self.histogram.counts
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        state.pop("emitted_through", None)  # held in the accumulator by checkpoints before it had its own state
        if "sketch" in state:  # a checkpoint from before the histograms: its KLL sketch's retained items
            state["histogram"] = _histogram_of_kll(state.pop("sketch"))
            state.pop("_scores", None)
        state["histogram"] = ScoreHistogram(state["histogram"])
        state.setdefault("first_event_ms", None)
        state.setdefault("viewer_cohorts", {})
        state.setdefault("creator_cohorts", {})
        state.setdefault("model_versions", {})
        self.__dict__.update(state)


def _tally(tallies: dict[str, list], cohort: str, scored: int, unsafe: int, harm: float) -> None:
    """Add to a cohort's [scored, unsafe, harm]."""
    tally = tallies.get(cohort)
    if tally is None:
        tallies[cohort] = [scored, unsafe, harm]
    else:
        tally[0] += scored
        tally[1] += unsafe
        tally[2] += harm


def _cohort_maps(name: str, tallies: dict[str, list]) -> dict:
    return {f"scored_by_{name}": {c: t[0] for c, t in tallies.items()},
            f"unsafe_by_{name}": {c: t[1] for c, t in tallies.items()},
            f"harm_by_{name}": {c: t[2] for c, t in tallies.items()}}


def _histogram_of_kll(serialized: bytes) -> dict[int, int]:
    """The buckets of a KLL sketch's retained items, each with its weight: the quantiles it could answer,
    with its rank error (exact when it held all its items, as it did below k = 200)."""
    from datasketches import kll_floats_sketch

    counts: dict[int, int] = {}
    for value, weight in kll_floats_sketch.deserialize(serialized):
        key = bucket_key(value)
        counts[key] = counts.get(key, 0) + weight
    return counts


HEALTH_COLUMNS = (
    "window_start", "window_end", "window_seconds", "first_event_time", *DIMENSIONS,
    "impressions", "scored", "unscored", "unsafe", "unsafe_by_category", "harm", "harm_by_category",
    "scored_by_viewer_cohort", "unsafe_by_viewer_cohort", "harm_by_viewer_cohort",
    "scored_by_creator_cohort", "unsafe_by_creator_cohort", "harm_by_creator_cohort",
    "score_p50", "score_p95", "score_p99", "score_histogram", "distinct_items", "distinct_creators",
    "top_unsafe_items", "offset_ranges", "job_id", "model_name", "model_version", "scored_by_model_version",
    "policy_version", "revision",
)


@dataclass(frozen=True)
class Lineage:
    """What every row is traceable to."""

    job_id: str
    model_name: str
    model_version: str  # the model's newest version at start (rows name the versions that scored them)
    policy_version: str  # the policy at start: a row whose accumulator names none was judged by it


def model_versions_label(scored_by_version: dict[str, int]) -> str:
    """The versions that scored a row's impressions, oldest first ("" when none was scored): "1", or "1,2"
    for a window that spans a reload."""
    return ",".join(sorted(scored_by_version, key=lambda v: (len(v), v)))


def health_row(window_start: int, window_ms: int, dims: tuple[str, ...], accumulator: WindowAccumulator,
               lineage: Lineage, forgotten_items: set[str] | frozenset[str] = frozenset()) -> list:
    """One safety_health row; `revision` (the impression count) lets a fuller re-emission win. Items of a
    forgotten creator leave the top list (a window open when the request came still holds them)."""
    metrics = accumulator.metrics()
    if forgotten_items:
        metrics["top_unsafe_items"] = [t for t in metrics["top_unsafe_items"] if t[0] not in forgotten_items]
    values = {
        "window_start": window_start, "window_end": window_start + window_ms, "window_seconds": window_ms // 1000,
        "first_event_time": window_start if accumulator.first_event_ms is None else accumulator.first_event_ms,
        **dict(zip(DIMENSIONS, dims)), **metrics,
        "job_id": lineage.job_id, "model_name": lineage.model_name,
        "model_version": model_versions_label(metrics["scored_by_model_version"]),
        "policy_version": ",".join(getattr(accumulator, "policy_versions", None) or [lineage.policy_version]),
        "revision": accumulator.impressions,
    }
    return [values[column] for column in HEALTH_COLUMNS]
