"""`riskstream report`: one self-contained HTML page about a slice over a time range, to attach to a ticket.

No Grafana is needed to read it: the page carries its charts (plotly, its JavaScript inlined, so it opens
offline) drawn from the same panel SQL the dashboards run (macros expanded as the ClickHouse plugin does,
`dashboards/macros.py`): the slice's unsafe rate with its baseline and the spike rule's 1.5x threshold,
the ranked causes of its last minutes (`riskstream explain`), who bears the harm (viewer and creator
cohorts) and the score quantiles, with the top unsafe items.
"""
from __future__ import annotations

import argparse
import html
from datetime import datetime, timezone
from pathlib import Path

from dashboards import drilldown, harm_by_cohort, macros
from riskstream.cli.explain_command import (MINUTE_MS, SPIKE_WINDOW_MINUTES, Question, newest_job, run,
                                           slice_argument)
from riskstream.core import config
from riskstream.core.errors import ConfigError
from riskstream.io import clickhouse
from udfs.attribution import Explanation

# The figures' element ids: what a reader (or a test) finds the plotted series by.
UNSAFE_RATE, CAUSES, QUANTILES = "unsafe-rate", "causes", "quantiles"
COHORTS = {"creator": "creator-cohorts", "viewer": "viewer-cohorts"}


def _at(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _panel(client, sql: str, from_ms: int, to_ms: int, variables: dict) -> tuple[list[str], list[tuple]]:
    """A dashboard panel's rows for the range, one-minute intervals."""
    result = client.query(macros.expand(sql, from_ms, to_ms, interval_s=60, variables=variables))
    return list(result.column_names), result.result_rows


def selection(client, database: str, slice_: dict[str, str], job_id: str, from_ms: int, to_ms: int) -> dict:
    """The drilldown's variables for the slice: its fixed dimensions, every value in the range of the others."""
    chosen: dict = {"job": job_id}
    for name, dimension in (("surface", "surface"), ("region", "region"), ("category", "item_category")):
        if dimension in slice_:
            chosen[name] = [slice_[dimension]]
        else:
            sql = drilldown.variables(database)[name][1]
            chosen[name] = [row[0] for row in _panel(client, sql, from_ms, to_ms, chosen)[1]]
    return chosen


def _figure(traces: list, title: str, div_id: str, y_title: str, first: bool, kind: str = "scatter") -> str:
    import plotly.graph_objects as go
    import plotly.io as pio

    figure = go.Figure()
    for trace in traces:
        figure.add_trace(go.Bar(**trace) if kind == "bar" else go.Scatter(mode="lines+markers", **trace))
    figure.update_layout(title=title, yaxis_title=y_title, height=380, margin={"l": 60, "r": 20, "t": 50, "b": 40},
                         template="plotly_white")
    if traces and traces[0].get("orientation") == "h":
        figure.update_yaxes(autorange="reversed")  # the first (highest ranked) on top
    return pio.to_html(figure, full_html=False, include_plotlyjs=first, div_id=div_id,
                       config={"displaylogo": False, "responsive": True})


def _table(columns: list[str], rows: list[tuple], limit: int = 20) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>" for row in rows[:limit])
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value)


def _causes(explanation: Explanation, first: bool) -> str:
    causes = explanation.causes[:10]
    figure = _figure([{"x": [c.explanatory_power for c in causes], "y": [c.label for c in causes],
                       "orientation": "h", "name": "explains"}], "Share of the rate change each cause explains",
                     CAUSES, "", first, kind="bar")
    rows = [(rank, c.label, round(100 * c.explanatory_power, 1), round(100 * c.mix_effect, 2),
             round(100 * c.rate_effect, 2), f"{c.p_adjusted:.2g}", "significant" if c.significant else "")
            for rank, c in enumerate(causes, start=1)]
    return figure + _table(["rank", "cause", "explains %", "mix points", "rate points", "p adj", ""], rows)


def build(client, database: str, slice_: dict[str, str], job_id: str, from_ms: int, to_ms: int,
          window_minutes: int = SPIKE_WINDOW_MINUTES) -> str:
    """The page's HTML."""
    chosen = selection(client, database, slice_, job_id, from_ms, to_ms)
    panels = drilldown.queries(database)
    _, rate = _panel(client, panels["Unsafe rate against its baseline"], from_ms, to_ms, chosen)
    times = [row[0].isoformat() for row in rate]
    parts = [_figure([{"x": times, "y": [row[1] for row in rate], "name": "unsafe rate"},
                      {"x": times, "y": [row[2] for row in rate], "name": f"baseline ({drilldown.BASELINE_MINUTES} min before the range)"},
                      {"x": times, "y": [row[3] for row in rate], "name": "spike threshold (1.5x baseline)"}],
                     "Unsafe rate of the slice", UNSAFE_RATE, "share of scored impressions", first=True)]
    window_start = to_ms - window_minutes * MINUTE_MS
    if window_start > from_ms:
        explanation = run(client, Question(job_id, slice_, window_start, to_ms, from_ms))
        parts.append(f"<h2>Why: the last {window_minutes} minutes against the range before them</h2>"
                     f"<p>unsafe rate {100 * explanation.rate_current:.2f}% against {100 * explanation.rate_baseline:.2f}%"
                     f" (change p = {explanation.change_p_value:.2g})</p>" + _causes(explanation, first=False))
    parts.append("<h2>Who bears the harm (every slice of the job)</h2>")
    cohort_sql = harm_by_cohort.queries(database)
    for kind, div_id in COHORTS.items():
        columns, rows = _panel(client, cohort_sql[f"{kind.capitalize()} cohorts against the rest"], from_ms, to_ms,
                               chosen)
        parts.append(_figure([{"x": [row[0] for row in rows], "y": [row[columns.index("unsafe_pct")] for row in rows],
                               "name": "unsafe %"},
                              {"x": [row[0] for row in rows], "y": [row[columns.index("rest_unsafe_pct")] for row in rows],
                               "name": "everyone else, unsafe %"}],
                             f"Unsafe rate by {kind} cohort", div_id, "%", first=False, kind="bar"))
    _, quantiles = _panel(client, panels["Safety score quantiles in the selection"], from_ms, to_ms, chosen)
    qtimes = [row[0].isoformat() for row in quantiles]
    parts.append(_figure([{"x": qtimes, "y": [row[i] for row in quantiles], "name": name}
                          for i, name in ((1, "p50"), (2, "p95"), (3, "p99"))],
                         "Safety score quantiles (within 0.5% of the exact)", QUANTILES, "score", first=False))
    columns, items = _panel(client, panels["Top unsafe items in the selection"], from_ms, to_ms, chosen)
    parts.append("<h2>Top unsafe items</h2>" + _table(columns, items))
    slice_text = ", ".join(f"{k}={v}" for k, v in slice_.items())
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>riskstream: {html.escape(slice_text)}</title>"
            f"<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin:1em 0}}"
            f"td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}</style></head><body>"
            f"<h1>{html.escape(slice_text)}</h1><p>job {html.escape(job_id)}, {_at(from_ms)} to {_at(to_ms)}; "
            f"written {_at(int(datetime.now(timezone.utc).timestamp() * 1000))} from ClickHouse database "
            f"{html.escape(database)}</p>{''.join(parts)}</body></html>")


def _report(args: argparse.Namespace, services: config.ServiceSettings) -> int:
    if args.to <= args.from_:
        raise ConfigError("--to must be after --from")
    settings = services.clickhouse
    client = clickhouse.connect(settings, database=settings.database)
    try:
        job_id = args.job_id or newest_job(client, args.slice)
        if job_id is None:
            raise ConfigError(f"no job wrote rows for slice {args.slice}; name one with --job-id")
        page = build(client, settings.database, args.slice, job_id, args.from_, args.to, args.window_minutes)
    finally:
        client.close()
    args.out.mkdir(parents=True, exist_ok=True)
    name = "-".join(f"{k}-{v}" for k, v in args.slice.items())
    path = args.out / f"report-{name}-{datetime.fromtimestamp(args.to / 1000, timezone.utc):%Y%m%dT%H%M}.html"
    path.write_text(page)
    print(path)
    return 0


def add_parser(commands, services_of, parse_time) -> None:
    parser = commands.add_parser("report", help="write one self-contained HTML page about a slice over a time range "
                                                "(unsafe rate, causes, cohorts, quantiles), to attach to a ticket")
    parser.add_argument("--slice", required=True, type=slice_argument, help="e.g. surface=shorts,region=br")
    parser.add_argument("--from", dest="from_", required=True, type=parse_time, metavar="TIME",
                        help="start of the range (ISO 8601 or epoch ms)")
    parser.add_argument("--to", required=True, type=parse_time, metavar="TIME", help="end of the range (now, ISO "
                                                                                      "8601 or epoch ms)")
    parser.add_argument("--out", required=True, type=Path, help="folder the page is written to")
    parser.add_argument("--job-id", help="the job whose rows to read (default: the newest that wrote the slice)")
    parser.add_argument("--window-minutes", type=int, default=SPIKE_WINDOW_MINUTES,
                        help=f"explain the last this many minutes against the rest of the range (default "
                             f"{SPIKE_WINDOW_MINUTES}, the spike rule's)")
    config.add_options(parser, config.SERVICE_OPTIONS + (config.STATE_DIR,))
    parser.set_defaults(handler=lambda args: _report(args, services_of(args)))
