"""Attribution against incidents whose cause is known (tests/incidents.py: a simulation written apart
from udfs/attribution.py). Random slice size, base rate, segment mix and incident size."""
from __future__ import annotations

import pytest

from tests.incidents import DIMENSIONS, KINDS, incidents, rank, simulate
from udfs.attribution import _Periods, _segments, explain


def test_the_injected_cause_ranks_first_in_nine_of_ten_incidents_and_always_in_the_top_three():
    ranks = {(kind, n): rank(simulated) for kind in KINDS
             for n, simulated in enumerate(incidents(kind, 5, 1000 + 100 * KINDS.index(kind)))}
    assert len(ranks) == 5 * len(KINDS)
    assert all(r is not None and r <= 3 for r in ranks.values()), ranks
    assert sum(r == 1 for r in ranks.values()) >= 0.9 * len(ranks), ranks


@pytest.mark.parametrize("kind", KINDS)
def test_the_injected_cause_is_significant(kind):
    [(now, before, items_now, items_before, (dims, values))] = incidents(kind, 1, 77)
    explanation = explain(DIMENSIONS, now, before, items_now, items_before)
    assert explanation.change_p_value < 0.01
    assert (explanation.significant[0].dimensions, explanation.significant[0].values) == (dims, values)


def test_traffic_moving_to_an_unsafe_category_is_a_mix_effect_and_a_category_getting_worse_a_rate_effect():
    mix = explain(DIMENSIONS, *simulate(5, "mix")[:4]).causes[0]
    worse = explain(DIMENSIONS, *simulate(5, "category")[:4]).causes[0]
    assert mix.mix_effect > 2 * abs(mix.rate_effect)
    assert worse.rate_effect > 2 * abs(worse.mix_effect)


@pytest.mark.parametrize("seed", range(20))
def test_on_a_quiet_stream_no_cause_is_significant(seed):
    now, before, items_now, items_before, _ = simulate(5000 + seed, None)
    assert explain(DIMENSIONS, now, before, items_now, items_before).significant == []


def test_the_causes_of_one_dimension_sum_to_the_rate_change_and_split_into_mix_and_rate():
    now, before, _, _, _ = simulate(3, "pair")
    periods = _Periods(now, before)
    for dimension in DIMENSIONS:  # every value of the dimension, both directions
        causes = [periods.cause(d, v, *c) for d, v, c in _segments(DIMENSIONS, now, before) if d == (dimension,)]
        assert sum(c.contribution for c in causes) == pytest.approx(periods.change, abs=1e-12)
        assert all(c.mix_effect + c.rate_effect == pytest.approx(c.contribution, abs=1e-12) for c in causes)
