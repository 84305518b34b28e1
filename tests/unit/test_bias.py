"""udfs/bias.py against a scipy reference written from the formulas (tests/bias_reference.py)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from tests import bias_reference
from udfs.bias import METRICS, Counts, assess, higher_than_rest


@st.composite
def cohort_counts(draw):
    benign = draw(st.integers(0, 400))
    violating = draw(st.integers(0, 120))
    false_positives = draw(st.integers(0, benign))
    false_negatives = draw(st.integers(0, violating))
    flagged = false_positives + violating - false_negatives
    return Counts(benign + violating, flagged, benign, false_positives, violating, false_negatives)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.tuples(st.sampled_from(["any", "spam", "hate"]), st.sampled_from(["a", "b", "c", "d"])),
                       cohort_counts(), min_size=1, max_size=12))
def test_findings_equal_the_reference(counts):
    tallies = {}
    for (category, cohort), c in counts.items():
        for metric in METRICS:
            tallies.setdefault((category, metric), {})[cohort] = c.pair(metric)
    expected = bias_reference.findings(tallies)
    found = {(f.category, f.cohort, f.metric): f for f in assess(counts, alpha=0.05)}
    assert found.keys() == expected.keys()
    for key, (k, n, low, high, p, adjusted) in expected.items():
        f = found[key]
        assert (f.successes, f.trials) == (k, n)
        assert (f.ci_low, f.ci_high) == (pytest.approx(low, abs=1e-12), pytest.approx(high, abs=1e-12))
        assert f.p_value == (None if p is None else pytest.approx(p, rel=1e-9, abs=1e-300))
        assert f.p_adjusted == (None if adjusted is None else pytest.approx(adjusted, rel=1e-9, abs=1e-300))
        assert f.significant == (adjusted is not None and adjusted < 0.05)


def test_a_cohort_flagged_more_is_significant_and_the_one_flagged_less_is_not():
    counts = {("any", "over"): Counts(200, 80, 200, 80, 0, 0), ("any", "under"): Counts(200, 20, 200, 20, 0, 0)}
    by = {(f.cohort, f.metric): f for f in assess(counts)}
    assert by[("over", "false_positive_rate")].significant
    assert not by[("under", "false_positive_rate")].significant  # one-sided: lower is not a harm to it
    assert by[("under", "false_positive_rate")].p_value > 0.99


def test_too_few_items_or_no_variation_is_untested_not_significant():
    small = {("any", "a"): Counts(10, 10, 10, 10, 0, 0), ("any", "b"): Counts(500, 5, 500, 5, 0, 0)}
    assert all(not f.tested and not f.significant for f in assess(small))
    assert higher_than_rest(0, 50, 0, 60) is None and higher_than_rest(50, 50, 60, 60) is None
