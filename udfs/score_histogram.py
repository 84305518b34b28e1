"""Safety-score quantiles with a stated, deterministic error: DDSketch's logarithmic buckets, as exact counts.

DDSketch (Masson, Rim and Lee, "DDSketch: a fast and fully-mergeable quantile sketch with
relative-error guarantees", VLDB 2019) maps a value v > 0 to the bucket k = ceil(log_gamma(v)), gamma =
(1 + a) / (1 - a), and answers a quantile with the bucket's representative 2 gamma^k / (1 + gamma). Every
value of bucket k lies in (gamma^(k-1), gamma^k], so the answer is within a relative `a` of the true
quantile of the items, whatever their distribution. The counts are exact integers, so merging is adding
them: the result depends on neither the order nor the grouping of the items (two runs over the same input
give the same quantiles, and a sliding window merged from tumbling ones the same as one built at once),
and ClickHouse merges any selection of rows with `sumMap` and finds the quantile in SQL
(dashboards/quantiles.py), with the same rule as `quantile` here.

Scores below `FLOOR` share the floor's bucket: a quantile that falls there is reported as about FLOOR
(an absolute error of at most FLOOR, far below anything a threshold or an analyst reads).

The quantile is the nearest-rank one (numpy's method="inverted_cdf"): the smallest item whose rank
(1-based) reaches ceil(q * n). Pure logic, no pyflink.

>>> h = ScoreHistogram.of([0.2, 0.5, 0.9, 0.95])
>>> [round(h.quantile(q), 3) for q in (0.5, 0.75, 1.0)]
[0.499, 0.9, 0.946]
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from ddsketch.mapping import LogarithmicMapping

from riskstream.core.score_buckets import FLOOR, GAMMA, RELATIVE_ACCURACY

# DDSketch's reference implementation of the bucket mapping (Datadog's `ddsketch`): key and representative.
MAPPING = LogarithmicMapping(RELATIVE_ACCURACY)
if abs(MAPPING.gamma - GAMMA) > 1e-12:
    raise AssertionError(f"ddsketch's gamma {MAPPING.gamma} is not the contract's {GAMMA}")
__all__ = ["FLOOR", "GAMMA", "RELATIVE_ACCURACY", "ScoreHistogram", "bucket_key", "bucket_value"]


def bucket_value(key: int) -> float:
    """The representative of bucket `key`: within RELATIVE_ACCURACY of every value in it."""
    return MAPPING.value(key)


def bucket_key(value: float) -> int:
    """A value's bucket; values at or below FLOOR fall in FLOOR's."""
    return MAPPING.key(value if value > FLOOR else FLOOR)


class ScoreHistogram:
    """Counts per DDSketch bucket; `add` scores, `merge` another, `quantile` any rank."""

    __slots__ = ("counts",)

    def __init__(self, counts: Mapping[int, int] | None = None):
        self.counts: dict[int, int] = dict(counts or {})

    @classmethod
    def of(cls, values: Iterable[float]) -> "ScoreHistogram":
        histogram = cls()
        histogram.add(values)
        return histogram

    @property
    def count(self) -> int:
        return sum(self.counts.values())

    def add(self, values: Iterable[float]) -> None:
        counts = self.counts
        for value in values:
            key = bucket_key(value)
            counts[key] = counts.get(key, 0) + 1

    def add_one(self, value: float) -> None:
        key = bucket_key(value)
        self.counts[key] = self.counts.get(key, 0) + 1

    def add_counts(self, keys: Iterable[int], counts: Iterable[int]) -> None:
        for key, count in zip(keys, counts):
            self.counts[key] = self.counts.get(key, 0) + count

    def merge(self, other: "ScoreHistogram") -> None:
        self.add_counts(other.counts.keys(), other.counts.values())

    def quantile(self, q: float) -> float | None:
        """The nearest-rank q-quantile's bucket representative; None when empty."""
        total = self.count
        if total == 0:
            return None
        rank = max(1, math.ceil(q * total))
        seen = 0
        for key in sorted(self.counts):
            seen += self.counts[key]
            if seen >= rank:
                return bucket_value(key)
        raise AssertionError("unreachable: ranks end at the total")

    def quantiles(self, qs: Iterable[float]) -> list[float | None]:
        return [self.quantile(q) for q in qs]

    def as_map(self) -> dict[int, int]:
        """The row's `score_histogram` column (ClickHouse Map(Int16, UInt64))."""
        return dict(sorted(self.counts.items()))
