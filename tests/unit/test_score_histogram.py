"""Score quantiles from DDSketch buckets, against numpy's exact quantiles of the same scores."""
from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from udfs.score_histogram import FLOOR, GAMMA, RELATIVE_ACCURACY, ScoreHistogram, bucket_key, bucket_value

QS = (0.5, 0.9, 0.95, 0.99, 0.999, 1.0)


def _scores(rng: random.Random, n: int) -> list[float]:
    """Safety-score-like data: mostly low, a heavy unsafe tail, ties, and a few exact zeros and ones."""
    shape = rng.choice(["beta", "mixture", "ties"])
    if shape == "beta":
        return [rng.betavariate(0.4, 3.0) for _ in range(n)]
    if shape == "mixture":
        return [rng.betavariate(8, 1.5) if rng.random() < 0.07 else rng.random() * 0.2 for _ in range(n)]
    return [rng.choice([0.0, 1e-9, 0.25, 0.5, 0.93, 1.0]) for _ in range(n)]


def _exact(scores: list[float], q: float) -> float:
    return float(np.quantile(np.asarray(scores), q, method="inverted_cdf"))


def _within_bound(reported: float, exact: float) -> bool:
    if exact <= FLOOR:  # the floor's bucket: an absolute error of at most FLOOR
        return reported <= FLOOR * (1 + RELATIVE_ACCURACY)
    return abs(reported - exact) <= RELATIVE_ACCURACY * exact * (1 + 1e-12)


@pytest.mark.parametrize("seed", range(40))
def test_every_quantile_is_within_the_relative_accuracy_of_the_exact_one(seed):
    rng = random.Random(seed)
    scores = _scores(rng, rng.choice([1, 2, 7, 150, 3000]))
    histogram = ScoreHistogram.of(scores)
    for q in QS:
        assert _within_bound(histogram.quantile(q), _exact(scores, q)), (q, histogram.quantile(q), _exact(scores, q))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=300), st.integers(0, 2**32 - 1))
def test_any_split_and_order_merges_to_the_same_histogram(scores, seed):
    rng = random.Random(seed)
    whole = ScoreHistogram.of(scores)
    shuffled = scores[:]
    rng.shuffle(shuffled)
    cuts = sorted(rng.sample(range(1, len(shuffled)), min(len(shuffled) - 1, rng.randint(0, 8))))
    parts = [ScoreHistogram.of(shuffled[a:b]) for a, b in zip([0, *cuts], [*cuts, len(shuffled)])]
    merged = ScoreHistogram()
    for part in reversed(parts):
        merged.merge(part)
    assert merged.as_map() == whole.as_map()
    assert merged.quantiles(QS) == whole.quantiles(QS)


@settings(max_examples=500, deadline=None)
@given(st.floats(min_value=FLOOR * 1.0001, max_value=1.0))
def test_a_bucket_holds_the_values_between_two_powers_of_gamma(value):
    key = bucket_key(value)
    assert GAMMA ** (key - 1) * (1 - 1e-12) <= value <= GAMMA ** key * (1 + 1e-12)
    assert abs(bucket_value(key) - value) <= RELATIVE_ACCURACY * value * (1 + 1e-12)


def test_the_quantile_is_the_nearest_rank_one():
    histogram = ScoreHistogram.of([0.1, 0.2, 0.3, 0.4])
    assert [round(histogram.quantile(q), 2) for q in (0.25, 0.26, 0.5, 0.51, 1.0)] == [0.1, 0.2, 0.2, 0.3, 0.4]
    assert ScoreHistogram().quantile(0.5) is None
    assert math.isclose(ScoreHistogram.of([0.0]).quantile(0.5), bucket_value(bucket_key(FLOOR)))
