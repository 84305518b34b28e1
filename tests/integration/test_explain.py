"""`riskstream explain` on rows in the real ClickHouse engine: rows made by the job's own row code from a
simulated slice with a known cause, the command run as a user runs it, its causes kept in alert_causes."""
from __future__ import annotations

import contextlib
import io
import random
from datetime import datetime, timezone

import pytest

from jobs.sink_rows import columns, sink_row, values
from riskstream.cli.main import main
from tests.e2e import store
from udfs.health import Lineage, WindowAccumulator, health_row
from udfs.policy import Policy

DATABASE = "riskstream_explain_test"
JOB = "explain"
START = 1_767_225_600_000  # 2026-01-01T00:00:00Z
MINUTE = 60_000
MINUTES = 65  # a 60-minute baseline, then the 5-minute window to explain
POLICY = Policy("v1", {"a": 0.5, "b": 0.7})
CATEGORIES = ("news", "music", "gaming", "comedy")
VERSIONS = {"recsys-a": 0.6, "recsys-b": 0.4}
UNSAFE, SAFE = [0.9, 0.1], [0.1, 0.1]
VIEWERS = ("13-17|ja-JP", "18-24|ja-JP", "25-34|ja-JP", "13-17|en-US", "35-54|en-US")


@pytest.fixture(scope="module")
def client(services):
    with store.scratch_database(services, DATABASE) as client:
        yield client


@pytest.fixture(scope="module")
def truth(client):
    """Rows of three slices: shorts/br, where music gets 8 times as unsafe in the last five minutes, search/jp,
    where what viewers aged 13-17 are shown does, and home/us, quiet. Returns the (scored, unsafe) of music and
    of the whole of shorts/br, per period, counted here."""
    rng = random.Random(3)
    counts = {"music_now": [0, 0], "music_before": [0, 0], "all_now": [0, 0], "all_before": [0, 0]}
    rows = []
    for surface, region in (("shorts", "br"), ("home", "us"), ("search", "jp")):
        for minute in range(MINUTES):
            incident = minute >= MINUTES - 5
            for category in CATEGORIES:
                for version, share in VERSIONS.items():
                    accumulator = WindowAccumulator()
                    for n in range(int(rng.gauss(120, 10) * share)):
                        viewer = rng.choice(VIEWERS)
                        # shorts/br: music gets 8x as unsafe; search/jp: what viewers aged 13-17 are shown.
                        worse = incident and (surface, category) == ("shorts", "music") or \
                            incident and surface == "search" and viewer.startswith("13-17|")
                        unsafe = rng.random() < 0.03 * (8 if worse else 1)
                        accumulator.add(f"{category}-{rng.randrange(200)}", "c", 0, n, UNSAFE if unsafe else SAFE,
                                        ("a", "b"), POLICY, START + minute * MINUTE + n,
                                        viewer_cohort=viewer, creator_cohort=rng.choice(("new", "veteran")))
                        if surface == "shorts":
                            period = "now" if minute >= MINUTES - 5 else "before"
                            for key in ("all", "music") if category == "music" else ("all",):
                                counts[f"{key}_{period}"][0] += 1
                                counts[f"{key}_{period}"][1] += unsafe
                    row = health_row(START + minute * MINUTE, MINUTE, (surface, region, version, category),
                                     accumulator, Lineage(JOB, "safety_text", "1", "v1"))
                    rows.append(values(sink_row("safety_health", row))[1])
    client.command("TRUNCATE TABLE safety_health")
    client.insert("safety_health", rows, column_names=columns("safety_health"))
    return counts


def _explain(stack, *extra: str) -> str:
    at = datetime.fromtimestamp((START + MINUTES * MINUTE) / 1000, timezone.utc).isoformat()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["explain", "--at", at, "--job-id", JOB, "--clickhouse-database", DATABASE,
                     "--state-dir", str(stack.state_dir), *extra]) == 0
    return out.getvalue()


def test_the_category_that_got_worse_is_the_first_and_significant_cause_with_its_measured_share(
        client, truth, stack):
    printed = _explain(stack, "--slice", "surface=shorts,region=br", "--write")
    first_cause = printed.splitlines()[2]
    assert first_cause.startswith("1 ") and "item_category=music" in first_cause and first_cause.endswith("significant")
    [(cause, power, rate_effect, mix_effect, significant, slice_now)] = client.query(
        "SELECT cause, explanatory_power, rate_effect, mix_effect, significant, slice_rate_current "
        "FROM alert_causes FINAL WHERE job_id = {job:String} AND slice = 'surface=shorts,region=br' AND rank = 1",
        parameters={"job": JOB}).result_rows
    (n1, u1), (n0, u0) = truth["all_now"], truth["all_before"]
    (_, v1), (_, v0) = truth["music_now"], truth["music_before"]
    assert cause == "item_category=music" and significant
    assert power == pytest.approx((v1 / n1 - v0 / n0) / (u1 / n1 - u0 / n0), rel=1e-9)
    assert slice_now == pytest.approx(u1 / n1, rel=1e-12)
    assert rate_effect > 5 * abs(mix_effect)  # music got worse; its traffic share did not move


def test_a_quiet_slice_has_no_significant_cause(client, truth, stack):
    printed = _explain(stack, "--slice", "surface=home,region=us", "--json")
    assert '"significant": true' not in printed


def test_a_slice_naming_an_unknown_dimension_is_refused_with_the_field(stack):
    with pytest.raises(SystemExit):
        with contextlib.redirect_stderr(io.StringIO()) as err:
            _explain(stack, "--slice", "surfce=shorts")
    assert "unknown dimension 'surfce'" in err.getvalue()


def test_the_why_panel_shows_only_the_newest_run_of_a_window_explained_twice(client, truth, stack):
    from dashboards import macros, safety_overview

    _explain(stack, "--slice", "surface=shorts,region=br", "--write", "--top", "3")
    _explain(stack, "--slice", "surface=shorts,region=br", "--write", "--top", "1")  # the same window, fewer causes
    sql = macros.expand(safety_overview.queries(DATABASE)["Why: causes of explained windows"], START,
                        START + MINUTES * MINUTE, variables={"job": JOB})
    shown = [(slice_, rank, cause) for _, slice_, rank, cause, *_ in client.query(sql).result_rows]
    assert shown == [("surface=shorts,region=br", 1, "item_category=music")]
    assert client.query("SELECT count() FROM alert_causes FINAL WHERE job_id = {job:String}",
                        parameters={"job": JOB}).result_rows[0][0] >= 3  # the earlier run's ranks 2-3 are still stored


def test_a_viewer_age_band_shown_more_harm_is_the_first_cause_though_rows_keep_viewers_apart(client, truth, stack):
    printed = _explain(stack, "--slice", "surface=search,region=jp")
    first_cause = printed.splitlines()[2]
    assert first_cause.startswith("1 ") and "viewer_age_band=13-17 " in first_cause, printed
    assert first_cause.endswith("significant")
