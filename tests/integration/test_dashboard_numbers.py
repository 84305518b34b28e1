"""The dashboards' numbers against an independent truth, in the real ClickHouse engine: score quantiles over
any selection, the drilldown's "previous version", and rows of a backfill where their data is.

Rows are made by the job's own row code (udfs.health) from scores known here, written as the job writes
them (jobs.sink_rows), into a database of their own; panel SQL runs with the plugin's macros expanded.
"""
from __future__ import annotations

import random

import numpy as np
import pytest

from dashboards import drilldown, macros, pipeline_health, safety_overview
from jobs.sink_rows import columns, sink_row, values
from tests.e2e import store
from tests.e2e.reference import within_quantile_bound
from udfs.health import Lineage, WindowAccumulator, health_row
from udfs.policy import Policy
from udfs.score_histogram import ScoreHistogram

DATABASE = "riskstream_dashboard_numbers"
JOB = "numbers"
START = 1_767_225_600_000  # 2026-01-01T00:00:00Z
MINUTE = 60_000
POLICY = Policy("v1", {"a": 0.5, "b": 0.7})
SURFACES, CATEGORIES = ("home", "search", "shorts"), ("news", "music")
VIEWERS = ("18-24|pt-BR", "35-54|en-US", "unknown|unknown")
# Seen out of name order: v9 first, then v2, then v10.
VERSIONS_FIRST_SEEN = {"v9": 0, "v2": 2, "v10": 4}


@pytest.fixture(scope="module")
def client(services):
    with store.scratch_database(services, DATABASE) as client:
        yield client


@pytest.fixture(scope="module")
def written(client):
    """Six minutes of rows; returns the highest score of every impression by (minute, surface, category), and
    per viewer cohort its [scored, unsafe] (18-24 shown unsafe items twice as often)."""
    rng = random.Random(11)
    tops: dict[tuple, list[float]] = {}
    cohorts: dict[str, list[int]] = {}
    rows = []
    for minute in range(6):
        for surface in SURFACES:
            for category in CATEGORIES:
                version = max((v for v, first in VERSIONS_FIRST_SEEN.items() if first <= minute),
                              key=VERSIONS_FIRST_SEEN.get)
                accumulator = WindowAccumulator()
                skew = 0.2 + 0.3 * SURFACES.index(surface) + 0.2 * CATEGORIES.index(category)
                for n in range(rng.randint(50, 400)):
                    viewer = rng.choice(VIEWERS)
                    scores = [rng.betavariate(skew * (2 if viewer == "18-24|pt-BR" else 1), 3.0),
                              rng.betavariate(0.5, 4.0)]
                    event_time = START + minute * MINUTE + 100 + n
                    accumulator.add(f"i{n % 37}", "c", 0, n, scores, ("a", "b"), POLICY, event_time,
                                    viewer_cohort=viewer, creator_cohort="new")
                    tally = cohorts.setdefault(viewer, [0, 0])
                    tally[0] += 1
                    tally[1] += scores[0] >= 0.5 or scores[1] >= 0.7
                    tops.setdefault((minute, surface, category), []).append(max(scores))
                row = health_row(START + minute * MINUTE, MINUTE, (surface, "us", version, category), accumulator,
                                 Lineage(JOB, "safety_text", "1", "v1"))
                rows.append(values(sink_row("safety_health", row))[1])
    client.command("TRUNCATE TABLE safety_health")
    client.insert("safety_health", rows, column_names=columns("safety_health"))
    return tops, cohorts


def _query(client, sql: str, variables: dict, interval_s: float = 3600) -> list[tuple]:
    expanded = macros.expand(sql, START, START + 6 * MINUTE, interval_s=interval_s,
                             variables={"job": JOB, **variables})
    return client.query(expanded).result_rows


@pytest.mark.parametrize("surfaces, categories", [
    (["home"], ["news"]), (["search", "shorts"], ["music"]), (list(SURFACES), list(CATEGORIES)), (["shorts"], ["news", "music"]),
])
def test_the_drilldowns_quantiles_are_those_of_the_selected_impressions_within_the_stated_bound(
        client, written, surfaces, categories):
    sql = drilldown.queries(DATABASE)["Safety score quantiles in the selection"]
    [(_, p50, p95, p99)] = _query(client, sql, {"surface": surfaces, "region": ["us"], "category": categories})
    selected = [score for (minute, surface, category), scores in written[0].items()
                if surface in surfaces and category in categories for score in scores]
    for q, reported in ((0.5, p50), (0.95, p95), (0.99, p99)):
        exact = float(np.quantile(np.asarray(selected), q, method="inverted_cdf"))
        assert within_quantile_bound(reported, exact), (q, reported, exact)
        assert reported == pytest.approx(ScoreHistogram.of(selected).quantile(q), rel=1e-12)


def test_the_overviews_quantiles_per_minute_are_those_of_each_minutes_impressions(client, written):
    sql = safety_overview.queries(DATABASE)["Safety score quantiles"]
    rows = _query(client, sql, {}, interval_s=60)
    assert len(rows) == 6
    for minute, (_, p50, p95, p99) in enumerate(rows):
        scores = [s for (m, _, _), found in written[0].items() if m == minute for s in found]
        for q, reported in ((0.5, p50), (0.95, p95), (0.99, p99)):
            assert within_quantile_bound(reported, float(np.quantile(scores, q, method="inverted_cdf"))), (minute, q)


def test_versions_are_offered_newest_first_by_first_seen_and_compared_with_the_one_seen_before(client, written):
    variables = drilldown.variables(DATABASE)
    offered = [row[0] for row in _query(client, variables["model_version"][1], {})]
    assert offered == ["v10", "v2", "v9"]
    previous = {version: [row[0] for row in _query(client, variables["previous_version"][1],
                                                   {"model_version": version})] for version in offered}
    assert previous == {"v10": ["v2"], "v2": ["v9"], "v9": []}


def test_without_a_previous_version_the_per_category_change_is_empty_not_the_whole_value(client, written):
    sql = drilldown.queries(DATABASE)["Unsafe per 1,000 scored by safety category"]
    rows = _query(client, sql, {"surface": list(SURFACES), "region": ["us"], "category": list(CATEGORIES),
                                "model_version": "v9", "previous_version": ""})
    assert rows and all(chosen > 0 and previous is None and change is None for _, chosen, previous, change in rows)


def test_each_viewer_cohorts_rate_against_the_rest_is_counted_exactly(client, written):
    from dashboards import harm_by_cohort

    truth = written[1]
    rows = _query(client, harm_by_cohort.queries(DATABASE)["Viewer cohorts against the rest"], {})
    found = {cohort: (scored, unsafe, ratio) for cohort, scored, unsafe, _, _, ratio, _, _ in rows}
    assert {c: found[c][:2] for c in found} == {c: tuple(t) for c, t in truth.items()}
    everyone = [sum(t[0] for t in truth.values()), sum(t[1] for t in truth.values())]
    young = truth["18-24|pt-BR"]
    rest = (everyone[1] - young[1]) / (everyone[0] - young[0])
    assert found["18-24|pt-BR"][2] == pytest.approx(young[1] / young[0] / rest, abs=0.006)
    assert rows[0][0] == "18-24|pt-BR"  # the cohort that bears the most harm comes first


def test_rows_of_a_backfill_show_at_their_event_time(client, written):
    # Written just now for windows of 2026-01-01: the panel over that day counts every one of them.
    sql = pipeline_health.queries(DATABASE)["Rows written per window interval"]
    rows = _query(client, sql, {}, interval_s=60)
    assert [count for _, count in rows] == [len(SURFACES) * len(CATEGORIES)] * 6


def test_version_annotations_sit_at_the_first_event_a_version_judged(client, written):
    from dashboards.panels import version_annotation_sql

    sql = version_annotation_sql(DATABASE, "policy_version", "concat('policy ', policy_version)")
    [(time, text)] = _query(client, sql, {})
    assert (int(time.timestamp() * 1000), text) == (START + 100, "policy v1")
