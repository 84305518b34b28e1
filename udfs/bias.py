"""Bias of the safety model against human labels, per creator cohort. Pure logic, no pyflink.

From labelled items (`udfs.labels` outcome rows, counted per category and cohort) three rates per cohort:
- flag rate: flagged / labelled items (how often the model acts on the cohort's content);
- false positive rate: flagged among items people found benign (over-enforcement: the creators' harm);
- false negative rate: not flagged among items people found violating (under-enforcement: the viewers' harm).

Each with a Wilson score interval, and a one-sided two-proportion z-test (pooled variance) of the cohort
against all other cohorts together: is this cohort's rate *higher* than the rest's? One-sided, because the
other direction follows from it (when one cohort is over-flagged, the rest look under-flagged against it) and
is not a harm to the cohort tested. The p-values of every test made (categories x cohorts x rates) are
corrected together by Benjamini-Hochberg; a disparity is significant when its adjusted p-value is below
alpha. A test needs `min_trials` items on both sides and some variation, else it is reported untested.

>>> counts = {("spam", "new"): Counts(100, 40, 80, 30, 20, 10), ("spam", "old"): Counts(300, 40, 250, 10, 50, 20)}
>>> [(f.cohort, f.metric, f.significant) for f in assess(counts) if f.metric == "false_positive_rate"]
[('new', 'false_positive_rate', True), ('old', 'false_positive_rate', False)]
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

ALPHA = 0.01
CONFIDENCE = 0.95
MIN_TRIALS = 20
ANY_CATEGORY = "any"  # an item flagged in any reviewed category, against violating any
METRICS = ("flag_rate", "false_positive_rate", "false_negative_rate")


@dataclass(frozen=True)
class Counts:
    """Labelled, scored items of one category and cohort."""

    labelled: int
    flagged: int
    benign: int  # people found it not violating
    false_positives: int  # benign, flagged
    violating: int
    false_negatives: int  # violating, not flagged

    def pair(self, metric: str) -> tuple[int, int]:
        """(successes, trials) of one of METRICS."""
        return {"flag_rate": (self.flagged, self.labelled),
                "false_positive_rate": (self.false_positives, self.benign),
                "false_negative_rate": (self.false_negatives, self.violating)}[metric]

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(*(a + b for a, b in zip(self.astuple(), other.astuple())))

    def astuple(self) -> tuple[int, ...]:
        return (self.labelled, self.flagged, self.benign, self.false_positives, self.violating, self.false_negatives)


ZERO = Counts(0, 0, 0, 0, 0, 0)


@dataclass(frozen=True)
class Finding:
    """One cohort's rate against the rest's, in one category."""

    category: str
    cohort: str
    metric: str
    successes: int
    trials: int  # never 0
    rate: float
    ci_low: float
    ci_high: float
    rest_successes: int
    rest_trials: int
    rest_rate: float | None
    z: float | None
    p_value: float | None  # None: untested
    p_adjusted: float | None
    significant: bool

    @property
    def tested(self) -> bool:
        return self.p_value is not None


def wilson(successes: int, trials: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The Wilson score interval of a proportion (statsmodels' implementation)."""
    from statsmodels.stats.proportion import proportion_confint
    low, high = proportion_confint(successes, trials, alpha=1 - confidence, method="wilson")
    return float(low), float(high)


def higher_than_rest(successes: int, trials: int, rest_successes: int, rest_trials: int
                     ) -> tuple[float, float] | None:
    """(z, one-sided p) that the first proportion exceeds the second; None when the pooled rate is 0 or 1
    (no variation to test)."""
    if rest_successes + successes in (0, trials + rest_trials):
        return None
    from statsmodels.stats.proportion import proportions_ztest
    z, p = proportions_ztest([successes, rest_successes], [trials, rest_trials], alternative="larger")
    return float(z), float(p)


def _finding(category: str, cohort: str, metric: str, mine: Counts, rest: Counts, min_trials: int) -> Finding:
    k, n = mine.pair(metric)
    rest_k, rest_n = rest.pair(metric)
    low, high = wilson(k, n)
    test = higher_than_rest(k, n, rest_k, rest_n) if min(n, rest_n) >= min_trials else None
    z, p = test if test is not None else (None, None)
    return Finding(category, cohort, metric, k, n, k / n, low, high, rest_k, rest_n,
                   rest_k / rest_n if rest_n else None, z, p, None, False)


def assess(counts: Mapping[tuple[str, str], Counts], alpha: float = ALPHA, min_trials: int = MIN_TRIALS
           ) -> list[Finding]:
    """Every (category, cohort, metric) finding of a cohort with such items, BH-corrected over all tests
    made, ordered by category, cohort and metric."""
    findings = []
    for category in sorted({c for c, _ in counts}):
        cohorts = {cohort: n for (c, cohort), n in counts.items() if c == category}
        total = sum(cohorts.values(), ZERO)
        for cohort in sorted(cohorts):
            rest = Counts(*(a - b for a, b in zip(total.astuple(), cohorts[cohort].astuple())))
            findings += [_finding(category, cohort, metric, cohorts[cohort], rest, min_trials) for metric in METRICS
                         if cohorts[cohort].pair(metric)[1]]  # a cohort with no such items has no such rate
    tested = [i for i, f in enumerate(findings) if f.tested]
    if tested:
        from statsmodels.stats.multitest import multipletests
        _, adjusted, _, _ = multipletests([findings[i].p_value for i in tested], alpha=alpha, method="fdr_bh")
        for i, p in zip(tested, adjusted):
            p = float(p)
            findings[i] = replace(findings[i], p_adjusted=p, significant=p < alpha and not math.isnan(p))
    return findings
