"""`riskstream report` writes a page people can open: rows made by the job's own row code from a simulated
slice with a known cause, the command run as a user runs it, the page opened in headless Chromium (no network),
and what it plotted compared with numbers counted here."""
from __future__ import annotations

import contextlib
import io
import random
from datetime import datetime, timezone

import pytest

from jobs.sink_rows import columns, sink_row, values
from riskstream.cli.main import main
from tests.browser import chromium
from tests.e2e import store
from udfs.health import Lineage, WindowAccumulator, health_row
from udfs.policy import Policy

DATABASE = "riskstream_report_test"
JOB = "report"
START = 1_767_225_600_000  # 2026-01-01T00:00:00Z
MINUTE = 60_000
MINUTES = 65  # the last 10 explained against the 35 before them; the first 20 are the baseline before the range
RANGE_START = START + 20 * MINUTE
POLICY = Policy("v1", {"a": 0.5, "b": 0.7})
CATEGORIES = ("news", "music", "gaming")
UNSAFE, SAFE = [0.9, 0.1], [0.1, 0.1]


@pytest.fixture(scope="module")
def truth(services):
    """Rows of shorts/br (music 8x as unsafe in the last 10 minutes) and home/us; shorts/br's (scored, unsafe)
    per minute, counted here."""
    rng = random.Random(5)
    per_minute: dict[int, list[int]] = {}
    rows = []
    for surface, region in (("shorts", "br"), ("home", "us")):
        for minute in range(MINUTES):
            for category in CATEGORIES:
                accumulator = WindowAccumulator()
                rate = 0.03 * (8 if surface == "shorts" and category == "music" and minute >= MINUTES - 10 else 1)
                for n in range(rng.randint(60, 120)):
                    unsafe = rng.random() < rate
                    accumulator.add(f"{category}-{rng.randrange(300)}", "c", 0, n, UNSAFE if unsafe else SAFE,
                                    ("a", "b"), POLICY, START + minute * MINUTE + n,
                                    viewer_cohort=rng.choice(("18-24|pt-BR", "35-54|en-US")),
                                    creator_cohort=rng.choice(("new", "veteran")))
                    if surface == "shorts":
                        tally = per_minute.setdefault(minute, [0, 0])
                        tally[0] += 1
                        tally[1] += unsafe
                row = health_row(START + minute * MINUTE, MINUTE, (surface, region, "recsys-a", category),
                                 accumulator, Lineage(JOB, "safety_text", "1", "v1"))
                rows.append(values(sink_row("safety_health", row))[1])
    with store.scratch_database(services, DATABASE) as client:
        client.insert("safety_health", rows, column_names=columns("safety_health"))
        yield per_minute


@pytest.fixture(scope="module")
def page(truth, stack, tmp_path_factory):
    """The report's HTML file."""
    out = tmp_path_factory.mktemp("report")
    printed = io.StringIO()
    iso = lambda ms: datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat()  # noqa: E731
    with contextlib.redirect_stdout(printed):
        assert main(["report", "--slice", "surface=shorts,region=br", "--from", iso(RANGE_START),
                     "--to", iso(START + MINUTES * MINUTE), "--out", str(out), "--job-id", JOB,
                     "--clickhouse-database", DATABASE, "--state-dir", str(stack.state_dir)]) == 0
    [path] = out.glob("*.html")
    assert printed.getvalue().strip() == str(path)
    return path


def test_the_page_opens_offline_in_chromium_and_plots_the_slices_unsafe_rate_baseline_and_threshold(truth, page):
    from playwright.sync_api import sync_playwright

    scored_before = sum(truth[m][0] for m in range(20))
    baseline = sum(truth[m][1] for m in range(20)) / scored_before
    expected = [truth[m][1] / truth[m][0] for m in range(20, MINUTES)]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        try:
            tab = browser.new_page()
            requested: list[str] = []
            tab.on("request", lambda request: requested.append(request.url))
            tab.goto(page.as_uri())
            tab.wait_for_function("() => { const g = document.getElementById('unsafe-rate'); return g && g.calcdata; }")
            series = tab.evaluate("() => document.getElementById('unsafe-rate').data.map(t => Array.from(t.y))")
            drawn = tab.evaluate("() => document.getElementById('unsafe-rate').calcdata.map(trace => trace.length)")
            lines = tab.evaluate("() => document.querySelectorAll('#unsafe-rate .scatterlayer .trace path.js-line')"
                                 ".length")
            first_cause = tab.evaluate("() => document.querySelector('table tbody tr td:nth-child(2)').textContent")
            causes_plotted = tab.evaluate("() => Array.from(document.getElementById('causes').data[0].y)")
        finally:
            browser.close()
    assert {url.split(":", 1)[0] for url in requested} == {"file"}  # self-contained: nothing fetched
    rate, base, threshold = series
    assert rate == pytest.approx(expected, rel=1e-12)
    assert base == pytest.approx([baseline] * len(expected), rel=1e-12)
    assert threshold == pytest.approx([1.5 * baseline] * len(expected), rel=1e-12)
    assert drawn == [len(expected)] * 3 and lines == 3  # every point of the three series drawn, as lines
    assert first_cause == "item_category=music" == causes_plotted[0]
