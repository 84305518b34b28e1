"""Bias statistics computed with scipy from first principles, apart from udfs/bias.py (which uses statsmodels)."""
from __future__ import annotations

import math

from scipy import stats

MIN_TRIALS = 20


def wilson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval, from its formula."""
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def findings(tallies: dict[tuple[str, str], dict[str, tuple[int, int]]]) -> dict:
    """(category, metric) -> cohort -> (successes, trials)  =>  (category, cohort, metric) -> [successes, trials,
    Wilson low, Wilson high, one-sided pooled z-test p of cohort > rest (None: untested), BH-adjusted p]."""
    found = {}
    for (category, metric), cohorts in tallies.items():
        total_k = sum(k for k, _ in cohorts.values())
        total_n = sum(n for _, n in cohorts.values())
        for cohort, (k, n) in cohorts.items():
            if not n:
                continue
            rest_k, rest_n = total_k - k, total_n - n
            p = None
            if min(n, rest_n) >= MIN_TRIALS and 0 < total_k < total_n:
                pooled = total_k / total_n
                z = (k / n - rest_k / rest_n) / math.sqrt(pooled * (1 - pooled) * (1 / n + 1 / rest_n))
                p = float(stats.norm.sf(z))
            found[(category, cohort, metric)] = [k, n, *wilson(k, n), p, None]
    tested = [key for key, value in found.items() if value[4] is not None]
    if tested:
        for key, adjusted in zip(tested, stats.false_discovery_control([found[k][4] for k in tested], method="bh")):
            found[key][5] = float(adjusted)
    return found
