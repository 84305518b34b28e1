"""Simulated incidents whose cause is known, for testing and measuring attribution (udfs/attribution.py).

A slice's traffic is drawn impression by impression with numpy (random size, base rate, category and
model-version mix, Zipf item popularity), independently of the code under test, and counted into the
cells the job's rows hold: scored and unsafe impressions per (item category, recommender model version,
creator cohort), unsafe impressions per item. Kinds of cause: one category, one model version, one
category under one version, one creator cohort, three viral items, traffic moving to an already unsafe
category; None: a quiet stream.
"""
from __future__ import annotations

import math

import numpy as np

from udfs.attribution import Cell, explain

CATEGORIES = ("news", "music", "gaming", "comedy", "beauty", "sports", "education", "food")
COHORTS = ("new", "established", "veteran")
DIMENSIONS = ("item_category", "recommender_model_version", "creator_cohort")
BASELINE_MINUTES, WINDOW_MINUTES = 60, 5
KINDS = ("category", "version", "pair", "cohort", "items", "mix")


def simulate(seed: int, kind: str | None):
    """(cells now, cells before, unsafe per item now, before, the injected cause as (dimensions, values))."""
    rng = np.random.default_rng(seed)
    versions = tuple(f"recsys-{v}" for v in rng.choice([3, 9, 10, 11, 27], size=rng.integers(2, 4), replace=False))
    category_weights = rng.dirichlet(np.full(len(CATEGORIES), 4.0))
    version_weights = rng.dirichlet(np.full(len(versions), 3.0))
    category_rate = rng.uniform(0.6, 1.6, len(CATEGORIES))  # categories differ in how unsafe they usually are
    base = rng.uniform(0.01, 0.05)
    per_minute = int(rng.integers(300, 2000))
    items = 3000
    item_category = rng.integers(0, len(CATEGORIES), items)
    popularity = 1.0 / np.arange(1, items + 1) ** 1.1
    x, v = int(rng.integers(len(CATEGORIES))), int(rng.integers(len(versions)))
    multiplier = rng.uniform(5, 10)
    hot_items = rng.choice(items, 3, replace=False)
    item_cohort = rng.choice(len(COHORTS), items, p=rng.dirichlet(np.full(len(COHORTS), 5.0)))  # their creators'
    k = int(rng.integers(len(COHORTS)))
    cause = {"category": (("item_category",), (CATEGORIES[x],)),
             "version": (("recommender_model_version",), (versions[v],)),
             "pair": (DIMENSIONS[:2], (CATEGORIES[x], versions[v])),
             "cohort": (("creator_cohort",), (COHORTS[k],)),
             "items": (("item_id",), tuple(sorted(f"item-{i}" for i in hot_items))),
             "mix": (("item_category",), (CATEGORIES[x],)), None: None}[kind]
    if kind == "mix":  # an already unsafe category gets more of the traffic; it is no worse than before
        category_rate[x] = 5.0

    def period(minutes: int, incident: bool):
        n = per_minute * minutes
        weights = category_weights.copy()
        if incident and kind == "mix":
            weights[x] *= 4
        weights /= weights.sum()
        category = rng.choice(len(CATEGORIES), n, p=weights)
        version = rng.choice(len(versions), n, p=version_weights)
        item = np.empty(n, dtype=np.int64)
        for c in range(len(CATEGORIES)):
            mine = np.flatnonzero(item_category == c)
            rows = np.flatnonzero(category == c)
            item[rows] = rng.choice(mine, len(rows), p=popularity[mine] / popularity[mine].sum())
        rate = base * category_rate[category]
        if incident and kind == "category":
            rate = np.where(category == x, rate * multiplier, rate)
        if incident and kind == "version":
            rate = np.where(version == v, rate * multiplier, rate)
        if incident and kind == "pair":
            rate = np.where((category == x) & (version == v), rate * multiplier, rate)
        if incident and kind == "cohort":
            rate = np.where(item_cohort[item] == k, rate * multiplier, rate)
        unsafe = rng.random(n) < np.minimum(rate, 1.0)
        if incident and kind == "items":  # three items go viral with unsafe content
            viral = rng.random(n) < rng.uniform(0.02, 0.06)
            item = np.where(viral, rng.choice(hot_items, n), item)
            category = np.where(viral, item_category[item], category)
            unsafe = np.where(viral, rng.random(n) < 0.9, unsafe)
        cells: dict[tuple, list[int]] = {}
        for c, ver, cohort, u in zip(category.tolist(), version.tolist(), item_cohort[item].tolist(), unsafe.tolist()):
            entry = cells.setdefault((CATEGORIES[c], versions[ver], COHORTS[cohort]), [0, 0])
            entry[0] += 1
            entry[1] += u
        per_item: dict[str, int] = {}
        for i in item[unsafe].tolist():
            per_item[f"item-{i}"] = per_item.get(f"item-{i}", 0) + 1
        return [Cell(values, n, u) for values, (n, u) in cells.items()], per_item

    before, items_before = period(BASELINE_MINUTES, False)
    now, items_now = period(WINDOW_MINUTES, kind is not None)
    return now, before, items_now, items_before, cause


def alerts(now: list[Cell], before: list[Cell]) -> bool:
    """Whether the slice's unsafe rate rose enough to alert: a one-sided two-proportion z above 3."""
    n1, u1 = sum(c.scored for c in now), sum(c.unsafe for c in now)
    n0, u0 = sum(c.scored for c in before), sum(c.unsafe for c in before)
    pooled = (u1 + u0) / (n1 + n0)
    return (u1 / n1 - u0 / n0) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0)) > 3


def incidents(kind: str, count: int, first_seed: int):
    """`count` simulated incidents of `kind` that would alert (explain runs for an alerting slice; an
    incident in a segment too small to move its slice is not one)."""
    found, seed = [], first_seed
    while len(found) < count:
        simulated = simulate(seed, kind)
        if alerts(simulated[0], simulated[1]):
            found.append(simulated)
        seed += 1
    return found


def rank(simulated) -> int | None:
    now, before, items_now, items_before, (dims, values) = simulated
    explanation = explain(DIMENSIONS, now, before, items_now, items_before)
    for rank, cause in enumerate(explanation.causes, start=1):
        if cause.dimensions == dims and cause.values == values:
            return rank
    return None
