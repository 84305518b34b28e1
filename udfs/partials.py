"""Pre-aggregation of one batch of impressions: one partial aggregate per window, slice and policy.

The job's vectorized step sees a batch of records at once (one Arrow batch); summing the batch per
(window, slice) there means the keyed window step gets one row per window and slice and batch instead of
one per impression, and touches its state once for each. A partial is a typed row (`PARTIAL_FIELDS`):
counts and sums, the highest scores' quantile buckets and their counts, the distinct items and
creators, and the records' (partition, offset, event id, event time), which the window step needs when
it finds the whole partial late; and, when a shadow policy is evaluated, what it would judge. Pure
logic, no pyflink.

>>> from udfs.policy import Policy
>>> from riskstream.core.rows import Impression
>>> a = Impression(61_000, "e1", "i1", "c1", "feed", "br", "v1", "news", "x", 0, 7)
>>> b = Impression(62_000, "e2", "i2", "c1", "feed", "br", "v1", "news", "y", 0, 8)
>>> [p] = aggregate([a, b], [[0.9, 0.1], None], 60_000, ("spam", "hate"), Policy("p1", {"spam": 0.8}))
>>> (p.window_start, p.impressions, p.scored, p.unsafe, p.unsafe_categories, p.record_offsets)
(60000, 2, 1, 1, ['spam'], [7, 8])
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

from riskstream.core.rows import DIMENSIONS, Impression
from udfs.health import WindowAccumulator
from udfs.policy import Policy
from udfs.policy_log import PolicyTimeline
from udfs.shadow import ShadowTally


@dataclass(frozen=True, slots=True)
class Partial:
    """One window's aggregate of one slice over one batch; field order is the row's column order."""

    window_start: int
    surface: str
    region: str
    recommender_model_version: str
    item_category: str
    policy_version: str  # the policy the batch was judged by
    impressions: int
    scored: int
    unsafe: int
    unsafe_categories: list[str]
    unsafe_counts: list[int]
    harm: float
    harm_categories: list[str]
    harm_sums: list[float]
    score_keys: list[int]  # udfs.score_histogram buckets of the impressions' highest scores
    score_counts: list[int]
    viewer_cohorts: list[str]  # per cohort of the scored impressions: scored, unsafe, harm
    viewer_scored: list[int]
    viewer_unsafe: list[int]
    viewer_harm: list[float]
    creator_cohorts: list[str]
    creator_scored: list[int]
    creator_unsafe: list[int]
    creator_harm: list[float]
    items: list[str]
    creators: list[str]
    unsafe_item_ids: list[str]
    unsafe_item_counts: list[int]
    unsafe_item_scores: list[float]
    record_partitions: list[int]
    record_offsets: list[int]
    record_event_ids: list[str]
    record_event_times: list[int]
    # What the shadow policy evaluated beside it would judge ("" and zeros: none was).
    shadow_version: str = ""
    shadow_unsafe: int = 0
    shadow_to_unsafe: int = 0
    shadow_to_safe: int = 0
    shadow_flip_items: list[str] = field(default_factory=list)
    shadow_flip_counts: list[int] = field(default_factory=list)
    # Scored impressions per model version that scored them (a batch can straddle a reload).
    model_versions: list[str] = field(default_factory=list)
    model_version_scored: list[int] = field(default_factory=list)

    @property
    def dimensions(self) -> tuple[str, ...]:
        return tuple(getattr(self, d) for d in DIMENSIONS)

    def accumulator(self) -> WindowAccumulator:
        """The window accumulator this partial sums (the inverse of building it)."""
        acc = WindowAccumulator()
        acc.policy_versions = [self.policy_version]
        acc.model_versions = dict(zip(self.model_versions, self.model_version_scored))
        acc.impressions, acc.scored, acc.unsafe, acc.harm = self.impressions, self.scored, self.unsafe, self.harm
        acc.unsafe_by_category = dict(zip(self.unsafe_categories, self.unsafe_counts))
        acc.harm_by_category = dict(zip(self.harm_categories, self.harm_sums))
        acc.histogram.add_counts(self.score_keys, self.score_counts)
        acc.viewer_cohorts = {c: [n, u, h] for c, n, u, h in
                              zip(self.viewer_cohorts, self.viewer_scored, self.viewer_unsafe, self.viewer_harm)}
        acc.creator_cohorts = {c: [n, u, h] for c, n, u, h in
                               zip(self.creator_cohorts, self.creator_scored, self.creator_unsafe, self.creator_harm)}
        if self.record_event_times:
            acc.first_event_ms = min(self.record_event_times)
        acc.items, acc.creators = set(self.items), set(self.creators)
        acc.unsafe_items = {item: [count, score] for item, count, score in
                            zip(self.unsafe_item_ids, self.unsafe_item_counts, self.unsafe_item_scores)}
        for partition, offset in zip(self.record_partitions, self.record_offsets):
            span = acc.offsets.setdefault(partition, [offset, offset])
            span[0], span[1] = min(span[0], offset), max(span[1], offset)
        if self.shadow_version:
            acc.shadows[self.shadow_version] = ShadowTally(
                self.scored, self.unsafe, self.shadow_unsafe, self.shadow_to_unsafe, self.shadow_to_safe,
                dict(zip(self.shadow_flip_items, self.shadow_flip_counts)), [self.policy_version])
        return acc

    def late_records(self):
        """(partition, offset, event id, event time) of each impression it holds."""
        return zip(self.record_partitions, self.record_offsets, self.record_event_ids, self.record_event_times)


# Column name -> SQL type of the partial row, in `Partial`'s field order (the job maps them to Flink types).
_SQL_TYPES = {"int": "BIGINT", "str": "STRING", "float": "DOUBLE", "bytes": "BYTES", "list[str]": "ARRAY<STRING>",
              "list[int]": "ARRAY<BIGINT>", "list[float]": "ARRAY<DOUBLE>"}
PARTIAL_FIELDS: tuple[tuple[str, str], ...] = tuple((f.name, _SQL_TYPES[f.type]) for f in fields(Partial))


class _Group:
    """The records of one window, slice and policy within a batch, summed as they come."""

    __slots__ = ("policy", "shadow", "tally", "accumulator", "partitions", "offsets", "event_ids", "event_times")

    def __init__(self, policy: Policy, shadow: Policy | None) -> None:
        self.policy = policy
        self.shadow = shadow
        self.tally = ShadowTally() if shadow is not None else None
        self.accumulator = WindowAccumulator()
        self.partitions: list[int] = []
        self.offsets: list[int] = []
        self.event_ids: list[str] = []
        self.event_times: list[int] = []


def aggregate(impressions: list[Impression], scores: list, window_ms: int, categories: tuple[str, ...],
              policy: Policy | PolicyTimeline, versions: list | None = None) -> list[Partial]:
    """One partial per (tumbling window, slice, policy, shadow policy) the batch touches, in first-seen order.

    `scores[i]` holds the per-category scores of `impressions[i]`, or None when it was not scored, and
    `versions[i]` the model version that produced them (None: not known); `policy` judges them all, or a
    timeline gives the policy (and any shadow) for each event time."""
    return [partial for _, partial in aggregate_with_leaders(impressions, scores, window_ms, categories, policy,
                                                             versions)]


def aggregate_with_leaders(impressions: list[Impression], scores: list, window_ms: int,
                           categories: tuple[str, ...], policy: Policy | PolicyTimeline,
                           versions: list | None = None) -> list[tuple[int, Partial]]:
    """As `aggregate`, each partial with the position of its first impression (where a 1:1 step puts it)."""
    if isinstance(policy, Policy):
        policy_at, shadow_at = (lambda _: policy), (lambda _: None)
    else:
        policy_at, shadow_at = policy.at, policy.shadow_at
    groups: dict[tuple, _Group] = {}
    leaders: dict[tuple, int] = {}
    if versions is None:
        versions = [None] * len(impressions)
    for position, (impression, item_scores, version) in enumerate(zip(impressions, scores, versions)):
        start = impression.event_time - impression.event_time % window_ms
        judge, shadow = policy_at(impression.event_time), shadow_at(impression.event_time)
        key = (start, impression.dimensions, judge.version, shadow.version if shadow else "")
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(judge, shadow)
            leaders[key] = position
        unsafe = group.accumulator.add(impression.item_id, impression.creator_id, impression.source_partition,
                                       impression.source_offset, item_scores, categories, group.policy,
                                       viewer_cohort=impression.viewer_cohort,
                                       creator_cohort=impression.creator_cohort, model_version=version)
        if group.tally is not None and item_scores is not None:
            group.tally.add(impression.item_id, unsafe, bool(group.shadow.unsafe_categories(categories, item_scores)))
        group.partitions.append(impression.source_partition)
        group.offsets.append(impression.source_offset)
        group.event_ids.append(impression.event_id)
        group.event_times.append(impression.event_time)
    return [(leaders[key], _partial(*key[:3], group)) for key, group in groups.items()]


def _partial(start: int, dims: tuple[str, ...], policy_version: str, group: _Group) -> Partial:
    acc = group.accumulator
    unsafe_items = list(acc.unsafe_items.items())
    return Partial(
        start, *dims, policy_version=policy_version, impressions=acc.impressions, scored=acc.scored, unsafe=acc.unsafe,
        unsafe_categories=list(acc.unsafe_by_category), unsafe_counts=list(acc.unsafe_by_category.values()),
        harm=acc.harm, harm_categories=list(acc.harm_by_category), harm_sums=list(acc.harm_by_category.values()),
        score_keys=list(acc.histogram.counts), score_counts=list(acc.histogram.counts.values()),
        **_cohort_fields("viewer", acc.viewer_cohorts), **_cohort_fields("creator", acc.creator_cohorts),
        items=list(acc.items), creators=list(acc.creators),
        unsafe_item_ids=[item for item, _ in unsafe_items], unsafe_item_counts=[c for _, (c, _) in unsafe_items],
        unsafe_item_scores=[float(s) for _, (_, s) in unsafe_items], record_partitions=group.partitions,
        record_offsets=group.offsets, record_event_ids=group.event_ids, record_event_times=group.event_times,
        **_shadow_fields(group), model_versions=list(acc.model_versions),
        model_version_scored=list(acc.model_versions.values()))


def _cohort_fields(kind: str, tallies: dict[str, list]) -> dict:
    return {f"{kind}_cohorts": list(tallies), f"{kind}_scored": [t[0] for t in tallies.values()],
            f"{kind}_unsafe": [t[1] for t in tallies.values()], f"{kind}_harm": [t[2] for t in tallies.values()]}


def _shadow_fields(group: _Group) -> dict:
    tally = group.tally
    if tally is None:
        return {}
    return {"shadow_version": group.shadow.version, "shadow_unsafe": tally.unsafe_shadow,
            "shadow_to_unsafe": tally.to_unsafe, "shadow_to_safe": tally.to_safe,
            "shadow_flip_items": list(tally.flipped), "shadow_flip_counts": list(tally.flipped.values())}
