import pickle
import random

import numpy as np
import pytest

from udfs.health import HEALTH_COLUMNS, Lineage, WindowAccumulator, health_row
from udfs.windows import WindowSpec
from udfs.policy import Policy

CATEGORIES = ("a", "b")
POLICY = Policy("v1", {"a": 0.5, "b": 0.7})


def _events(n, seed):
    rng = random.Random(seed)
    return [(f"item-{rng.randrange(20)}", f"c-{rng.randrange(5)}", rng.randrange(3), i,
             None if rng.random() < 0.1 else [rng.random(), rng.random()]) for i in range(n)]


def _fill(events):
    acc = WindowAccumulator()
    for item, creator, partition, offset, scores in events:
        acc.add(item, creator, partition, offset, scores, CATEGORIES, POLICY)
    return acc


def test_merging_two_halves_equals_adding_everything():
    events = _events(150, 1)
    whole = _fill(events).metrics()
    left, right = _fill(events[:70]), _fill(events[70:])
    left.merge(right)
    merged = left.metrics()
    assert merged.pop("harm") == pytest.approx(whole.pop("harm"))
    assert merged.pop("harm_by_category") == pytest.approx(whole.pop("harm_by_category"))
    merged.pop("score_sketch"), whole.pop("score_sketch")
    assert merged == whole


def test_counts_quantiles_and_top_items_follow_their_definitions():
    events = _events(150, 2)
    m = _fill(events).metrics()
    scored = [e for e in events if e[4] is not None]
    tops = np.array([max(e[4]) for e in scored], dtype=np.float32)
    assert (m["impressions"], m["scored"], m["unscored"]) == (150, len(scored), 150 - len(scored))
    unsafe = [e for e in scored if e[4][0] >= 0.5 or e[4][1] >= 0.7]
    assert m["unsafe"] == len(unsafe)
    assert m["unsafe_by_category"] == {"a": sum(e[4][0] >= 0.5 for e in scored), "b": sum(e[4][1] >= 0.7 for e in scored)}
    assert m["score_p95"] == pytest.approx(float(np.quantile(tops, 0.95, method="inverted_cdf")))
    assert len(m["top_unsafe_items"]) <= 10
    counts = [count for _, count, _ in m["top_unsafe_items"]]
    assert counts == sorted(counts, reverse=True)
    assert m["offset_ranges"] == sorted(m["offset_ranges"])


def test_an_accumulator_survives_pickling_as_flink_state():
    acc = _fill(_events(40, 3))
    restored = pickle.loads(pickle.dumps(acc))
    assert restored.metrics() == acc.metrics()


def test_an_all_unscored_window_has_no_quantiles_and_full_unscored_count():
    acc = WindowAccumulator()
    acc.add("i", "c", 0, 1, None, CATEGORIES, POLICY)
    m = acc.metrics()
    assert (m["unscored"], m["score_p50"], m["unsafe"]) == (1, None, 0)


def test_rows_carry_lineage_and_every_column():
    row = health_row(120_000, 60_000, ("s", "r", "m", "c"), _fill(_events(5, 4)), Lineage("job", "model", "3", "v1"))
    values = dict(zip(HEALTH_COLUMNS, row))
    assert len(row) == len(HEALTH_COLUMNS)
    assert (values["window_start"], values["window_end"], values["window_seconds"]) == (120_000, 180_000, 60)
    assert (values["job_id"], values["model_version"], values["policy_version"], values["revision"]) == ("job", "3", "v1", 5)


def test_window_spec_assigns_starts_and_counts_views():
    spec = WindowSpec(60_000, 300_000, 60_000)
    assert spec.start_of(125_000) == 120_000 and spec.views == 5
