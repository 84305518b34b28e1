"""Which segment of a slice drives a change in its unsafe rate: ranked causes with mix and rate effects.

The unsafe rate of a slice is R = sum_i w_i r_i over the segments i of any one dimension (item category,
recommender model version, ...): w_i is the segment's share of scored impressions, r_i its unsafe rate.
Between a baseline period (0) and the alerting window (1), segment i's contribution to the change is

    c_i = w1_i r1_i - w0_i r0_i = u1_i / N1 - u0_i / N0         (u: unsafe impressions, N: scored),

and the contributions of a dimension's segments sum to R1 - R0 exactly. Kitagawa's two-factor
decomposition (Kitagawa 1955, "Components of a difference between two rates"; equal to the Shapley
value of the two factors) splits each into a mix effect, traffic moving to or from the segment at its
rate, and a rate effect, the segment itself getting worse or better:

    mix_i  = (w1_i - w0_i) (r1_i + r0_i) / 2        rate_i = (r1_i - r0_i) (w1_i + w0_i) / 2

(a segment absent from one period takes the other period's rate, or the slice's, which leaves c_i as
is). A ratio metric needs this: Adtributor (Bhagwan et al., NSDI 2014) ranks by explanatory power and
surprise of additive metrics, and a rate can rise with no segment getting worse.

Candidates are every value of each dimension, every pair of values of two dimensions (a cause that spans
two, e.g. one category under one model version), every value of a dimension kept apart (viewer age band and
locale: the aggregates keep viewer cohorts in maps of their own, so they pair with nothing), and the few items (up to `max_items`) whose own change
is beyond chance and a tenth of the slice's each. Each is ranked by its concentration, explanatory power minus traffic share: a segment unrelated
to the change takes about its share of it, so EP - share ~ 0, while a cause explains much more than its
share (a category with an eighth of the traffic explaining all of it scores 0.875). Pairs compete with
single values on the same score, so a pair wins only when the change is concentrated in it. Items have
no traffic share in the aggregates (only their unsafe impressions are kept): their share of the
baseline's unsafe impressions stands in for it (popular items take their usual part of any change;
items that were not unsafe before and now explain it score high).

A candidate is significant when the share of scored impressions that are unsafe and in it changed
beyond chance (a one-sided two-proportion z-test, Benjamini-Hochberg over all candidates at `alpha`),
explains at least `min_power` of the change, and the slice's own change is significant. On a quiet
stream nothing is. Pure logic, no pyflink.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

METHOD = "kitagawa-shapley decomposition, ranked by explanatory power minus traffic share"


@dataclass(frozen=True)
class Cell:
    """Scored and unsafe impressions of one combination of the candidate dimensions' values, in one period."""

    values: tuple[str, ...]
    scored: int
    unsafe: int


@dataclass(frozen=True)
class Cause:
    dimensions: tuple[str, ...]  # ("item_category",), a pair, or ("item_id",) for items
    values: tuple[str, ...]      # for items: the items' ids
    contribution: float          # to the rate change (rate units); the causes of one dimension sum to it
    explanatory_power: float     # contribution / rate change
    mix_effect: float
    rate_effect: float
    share_baseline: float | None  # of scored impressions; None for items (not in the aggregates)
    share_current: float | None
    rate_baseline: float | None
    rate_current: float | None
    score: float                 # explanatory power minus mean traffic share
    p_value: float
    p_adjusted: float = 1.0
    significant: bool = False

    @property
    def label(self) -> str:
        if self.dimensions == ("item_id",):
            return "items " + ", ".join(self.values)
        return " & ".join(f"{d}={v}" for d, v in zip(self.dimensions, self.values))


@dataclass(frozen=True)
class Explanation:
    rate_baseline: float
    rate_current: float
    scored_baseline: int
    scored_current: int
    change_p_value: float  # of the slice's own rate change
    causes: list[Cause]    # ranked, best first; only those in the direction of the change

    @property
    def rate_change(self) -> float:
        return self.rate_current - self.rate_baseline

    @property
    def significant(self) -> list[Cause]:
        return [cause for cause in self.causes if cause.significant]


def _totals(cells: Iterable[Cell]) -> tuple[int, int]:
    scored = unsafe = 0
    for cell in cells:
        scored += cell.scored
        unsafe += cell.unsafe
    return scored, unsafe


def _p_value(x1: int, n1: int, x0: int, n0: int, direction: int) -> float:
    """One-sided two-proportion z-test of x1/n1 against x0/n0 in `direction` (+1 larger, -1 smaller)."""
    from statsmodels.stats.proportion import proportions_ztest  # imported when used: the CLI starts faster

    if n1 == 0 or n0 == 0 or x1 + x0 == 0 or x1 + x0 == n1 + n0:
        return 1.0
    _, p = proportions_ztest([x1, x0], [n1, n0], alternative="larger" if direction > 0 else "smaller")
    return float(p)


class _Periods:
    def __init__(self, current: list[Cell], baseline: list[Cell]):
        self.n1, self.u1 = _totals(current)
        self.n0, self.u0 = _totals(baseline)
        self.r1 = self.u1 / self.n1 if self.n1 else 0.0
        self.r0 = self.u0 / self.n0 if self.n0 else 0.0
        self.change = self.r1 - self.r0
        self.direction = 1 if self.change >= 0 else -1

    def cause(self, dimensions: tuple[str, ...], values: tuple[str, ...], n1: int, u1: int, n0: int, u0: int,
              traffic_known: bool = True) -> Cause:
        contribution = (u1 / self.n1 if self.n1 else 0.0) - (u0 / self.n0 if self.n0 else 0.0)
        if traffic_known:
            w1, w0 = (n1 / self.n1 if self.n1 else 0.0), (n0 / self.n0 if self.n0 else 0.0)
            r1 = u1 / n1 if n1 else None
            r0 = u0 / n0 if n0 else None
            a1 = r1 if r1 is not None else (r0 if r0 is not None else self.r1)
            a0 = r0 if r0 is not None else (r1 if r1 is not None else self.r0)
            mix, rate = (w1 - w0) * (a1 + a0) / 2, (a1 - a0) * (w1 + w0) / 2
            share = (w1 + w0) / 2
        else:  # items: their share of the baseline's unsafe impressions stands in for their traffic share
            w1 = w0 = r1 = r0 = None
            mix, rate, share = 0.0, contribution, (u0 / self.u0 if self.u0 else 0.0)
        power = contribution / self.change if self.change else 0.0
        return Cause(dimensions, values, contribution, power, mix, rate, w0, w1, r0, r1, power - share,
                     _p_value(u1, self.n1, u0, self.n0, self.direction))


def explain(dimensions: tuple[str, ...], current: list[Cell], baseline: list[Cell],
            items_current: Mapping[str, int] | None = None, items_baseline: Mapping[str, int] | None = None,
            max_items: int = 5, alpha: float = 0.001, min_power: float = 0.25,
            apart: Mapping[str, tuple[list[Cell], list[Cell]]] | None = None) -> Explanation:
    """Rank the causes of the change from `baseline` to `current` (cells over `dimensions`, in that order).

    items_*: unsafe impressions per item in each period (those the aggregates kept).
    apart: dimension -> its (current, baseline) cells of one value each, for dimensions the aggregates keep
    apart from the others (viewer cohorts): candidates on their own, never in pairs. Each dimension's cells
    must count the same impressions as `current` and `baseline`."""
    periods = _Periods(current, baseline)
    candidates = [periods.cause(dims, values, *counts)
                  for dims, values, counts in _segments(dimensions, current, baseline)]
    for dimension, (cells_now, cells_before) in (apart or {}).items():
        candidates += [periods.cause(dims, values, *counts)
                       for dims, values, counts in _segments((dimension,), cells_now, cells_before)]
    _prefer_specific_pairs(periods, candidates, current, baseline, dimensions)
    best_items = _item_cause(periods, items_current or {}, items_baseline or {}, max_items)
    if best_items is not None:
        candidates.append(best_items)
    change_p = _p_value(periods.u1, periods.n1, periods.u0, periods.n0, periods.direction)
    ranked = sorted((c for c in candidates if c.contribution * periods.direction > 0),
                    key=lambda c: (-c.score, len(c.dimensions), c.label))
    if ranked:
        from statsmodels.stats.multitest import multipletests

        rejected, adjusted, _, _ = multipletests([c.p_value for c in ranked], alpha=alpha, method="fdr_bh")
        ranked = [_judged(c, float(p), bool(r) and change_p < alpha and c.explanatory_power >= min_power)
                  for c, p, r in zip(ranked, adjusted, rejected)]
    return Explanation(periods.r0, periods.r1, periods.n0, periods.n1, change_p, ranked)


def _prefer_specific_pairs(periods: _Periods, candidates: list[Cause], current: list[Cell], baseline: list[Cell],
                           dimensions: tuple[str, ...]) -> None:
    """Rank a pair just above a value it narrows when the change of that value is the pair's: the pair's
    own rate moved beyond chance (p < 0.01) and the rest of the value's impressions did not (p >= 0.05).
    One category getting worse under one model version is then named as such, not as the category."""
    singles = {(c.dimensions[0], c.values[0]): c for c in candidates if len(c.dimensions) == 1}
    position = {d: n for n, d in enumerate(dimensions)}

    def counts(match) -> tuple[int, int, int, int]:
        n1, u1 = _totals(cell for cell in current if match(cell))
        n0, u0 = _totals(cell for cell in baseline if match(cell))
        return n1, u1, n0, u0

    for index, pair in enumerate(candidates):
        if len(pair.dimensions) != 2 or pair.rate_current is None or pair.rate_baseline is None:
            continue
        (d1, d2), (v1, v2) = pair.dimensions, pair.values
        inside = counts(lambda c: c.values[position[d1]] == v1 and c.values[position[d2]] == v2)
        if _p_value(inside[1], inside[0], inside[3], inside[2], periods.direction) >= 0.01:
            continue
        for dimension, value, other, other_value in ((d1, v1, d2, v2), (d2, v2, d1, v1)):
            parent = singles.get((dimension, value))
            if parent is None or parent.score <= pair.score:
                continue
            n1, u1, n0, u0 = counts(lambda c: c.values[position[dimension]] == value
                                    and c.values[position[other]] != other_value)
            if _p_value(u1, n1, u0, n0, periods.direction) >= 0.05:
                pair = candidates[index] = Cause(**{**pair.__dict__, "score": parent.score + 1e-9})


def _judged(cause: Cause, p_adjusted: float, significant: bool) -> Cause:
    return Cause(**{**cause.__dict__, "p_adjusted": p_adjusted, "significant": significant})


def _segments(dimensions: tuple[str, ...], current: list[Cell], baseline: list[Cell]):
    """(dimensions, values, (n1, u1, n0, u0)) of every value of one dimension and of two."""
    groups = [(d,) for d in range(len(dimensions))] + list(itertools.combinations(range(len(dimensions)), 2))
    for positions in groups:
        counts: dict[tuple[str, ...], list[int]] = {}
        for period, cells in ((0, current), (1, baseline)):
            for cell in cells:
                entry = counts.setdefault(tuple(cell.values[p] for p in positions), [0, 0, 0, 0])
                entry[2 * period] += cell.scored
                entry[2 * period + 1] += cell.unsafe
        names = tuple(dimensions[p] for p in positions)
        for values, (n1, u1, n0, u0) in sorted(counts.items()):
            yield names, values, (n1, u1, n0, u0)


def _item_cause(periods: _Periods, current: Mapping[str, int], baseline: Mapping[str, int],
                max_items: int) -> Cause | None:
    """The items (at most `max_items`) whose unsafe impressions changed beyond chance and by a tenth of the
    slice's change each, as one cause."""
    def contribution(item: str) -> float:
        return ((current.get(item, 0) / periods.n1 if periods.n1 else 0.0)
                - (baseline.get(item, 0) / periods.n0 if periods.n0 else 0.0))

    # Only items whose own change is beyond chance: a popular item's unsafe count moves with the traffic.
    ranked = sorted((item for item in set(current) | set(baseline) if contribution(item) * periods.direction > 0
                     and _p_value(current.get(item, 0), periods.n1, baseline.get(item, 0), periods.n0,
                                  periods.direction) < 0.001),
                    key=lambda item: (-abs(contribution(item)), item))[:max_items]
    items = tuple(sorted(item for item in ranked if abs(contribution(item)) >= 0.1 * abs(periods.change)))
    if not items:  # each item named must add a tenth of the change by itself
        return None
    u1, u0 = sum(current.get(i, 0) for i in items), sum(baseline.get(i, 0) for i in items)
    return periods.cause(("item_id",), items, 0, u1, 0, u0, traffic_known=False)
