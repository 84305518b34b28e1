"""`riskstream explain`: which segment of a slice drives its unsafe rate in a window (udfs/attribution.py).

Read from the job's 1-minute `safety_health` rows: the slice's scored and unsafe impressions per item
category, recommender model version and creator cohort (and per surface or region when the slice leaves
them open) and, apart, per viewer age band and locale, in the window ending at `--at` and in the baseline
before it, and the unsafe impressions of each window's top unsafe items. `--write` keeps the ranked causes in `alert_causes`, where the drilldown dashboard and
the alert notifications read them.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from riskstream.core import config, paths
from riskstream.core.errors import ConfigError
from riskstream.core.rows import DIMENSIONS
from riskstream.cli.tables import format_table
from riskstream.io import clickhouse
from udfs.attribution import METHOD, Cell, Explanation, explain

MINUTE_MS = 60_000
VIEWER_DIMENSIONS = ("viewer_age_band", "viewer_locale")  # candidates on their own (rows keep viewers apart)
WINDOW_MINUTES, BASELINE_MINUTES = 5, 60
# The unsafe-rate spike rule (dashboards/alerts.py): its last 10 minutes against the rest of its 3 hours.
SPIKE_RULE, SPIKE_WINDOW_MINUTES, SPIKE_BASELINE_MINUTES = "riskstream-unsafe-rate-spike", 10, 170
CAUSE_COLUMNS = ("window_start", "window_end", "baseline_start", "job_id", "slice", "rank", "cause", "dimensions",
                 "dimension_values", "contribution", "explanatory_power", "mix_effect", "rate_effect",
                 "share_baseline", "share_current", "rate_baseline", "rate_current", "score", "p_value", "p_adjusted",
                 "significant", "slice_rate_baseline", "slice_rate_current", "slice_p_value", "method", "explained_at")


@dataclass(frozen=True)
class Question:
    job_id: str
    slice: dict[str, str]  # fixed dimensions, e.g. {"surface": "shorts", "region": "br"}
    window_start_ms: int
    window_end_ms: int
    baseline_start_ms: int

    @property
    def open_dimensions(self) -> tuple[str, ...]:
        """The dimensions the slice leaves open: the candidate causes' (item category, model version and creator
        cohort first)."""
        order = ("item_category", "recommender_model_version", "creator_cohort", "surface", "region")
        return tuple(d for d in order if d not in self.slice)

    @property
    def slice_text(self) -> str:
        return ",".join(f"{d}={self.slice[d]}" for d in DIMENSIONS if d in self.slice)


def parse_slice(text: str) -> dict[str, str]:
    """`surface=shorts,region=br` -> {"surface": "shorts", "region": "br"}; refuses unknown dimensions."""
    found = {}
    for part in (p for p in text.split(",") if p):
        name, sep, value = part.partition("=")
        if not sep or not value:
            raise ConfigError(f"--slice: {part!r} is not dimension=value")
        if name not in DIMENSIONS:
            raise ConfigError(f"--slice: unknown dimension {name!r}; one of {', '.join(DIMENSIONS)}")
        found[name] = value
    if not found:
        raise ConfigError("--slice: name at least one dimension, e.g. surface=shorts,region=br")
    return found


def _slice_where(slice_: dict[str, str]) -> tuple[list[str], dict]:
    """The slice's dimensions as query conditions, with their parameters."""
    ordered = sorted(slice_.items())
    return ([f"{dimension} = {{v{n}:String}}" for n, (dimension, _) in enumerate(ordered)],
            {f"v{n}": value for n, (_, value) in enumerate(ordered)})


def _where(question: Question, start_ms: int, end_ms: int) -> tuple[str, dict]:
    clauses, parameters = _slice_where(question.slice)
    clauses += ["job_id = {job:String}", "window_seconds = 60",
                "window_start >= fromUnixTimestamp64Milli({start:Int64}, 'UTC')",
                "window_start < fromUnixTimestamp64Milli({end:Int64}, 'UTC')"]
    parameters.update({"job": question.job_id, "start": start_ms, "end": end_ms})
    return " AND ".join(clauses), parameters


def _viewer_cells(client, where: str, parameters: dict) -> dict[str, list[Cell]]:
    """Viewer age band and locale -> their cells, from each row's viewer cohorts ("age band|locale"; rows written
    before the cohort columns count as unknown)."""
    rows = client.query(
        f"SELECT splitByChar('|', cohort)[1] AS age_band, splitByChar('|', cohort)[2] AS locale, "
        f"sum(if(empty(scored_by_viewer_cohort), scored, scored_by_viewer_cohort[cohort])), "
        f"sum(if(empty(scored_by_viewer_cohort), unsafe, unsafe_by_viewer_cohort[cohort])) "
        f"FROM safety_health FINAL ARRAY JOIN if(empty(scored_by_viewer_cohort), ['unknown|unknown'], "
        f"mapKeys(scored_by_viewer_cohort)) AS cohort WHERE {where} GROUP BY age_band, locale",
        parameters=parameters).result_rows
    cells: dict[str, list[Cell]] = {}
    for position, dimension in enumerate(VIEWER_DIMENSIONS):
        totals: dict[str, list[int]] = {}
        for row in rows:
            entry = totals.setdefault(row[position], [0, 0])
            entry[0] += int(row[2])
            entry[1] += int(row[3])
        cells[dimension] = [Cell((value,), scored, unsafe) for value, (scored, unsafe) in sorted(totals.items())]
    return cells


def _period(client, question: Question, start_ms: int, end_ms: int
            ) -> tuple[list[Cell], dict[str, int], dict[str, list[Cell]]]:
    where, parameters = _where(question, start_ms, end_ms)
    dims = question.open_dimensions
    # Each row's creator cohorts (rows written before the cohort columns count as one cohort, unknown).
    cells = client.query(
        f"SELECT {', '.join(dims)}, "
        f"sum(if(empty(scored_by_creator_cohort), scored, scored_by_creator_cohort[creator_cohort])), "
        f"sum(if(empty(scored_by_creator_cohort), unsafe, unsafe_by_creator_cohort[creator_cohort])) "
        f"FROM safety_health FINAL ARRAY JOIN if(empty(scored_by_creator_cohort), ['unknown'], "
        f"mapKeys(scored_by_creator_cohort)) AS creator_cohort "
        f"WHERE {where} GROUP BY {', '.join(dims)}", parameters=parameters).result_rows
    items = client.query(f"SELECT item.item_id, sum(item.unsafe_impressions) FROM safety_health FINAL "
                         f"ARRAY JOIN top_unsafe_items AS item WHERE {where} GROUP BY item.item_id",
                         parameters=parameters).result_rows
    return ([Cell(tuple(row[:len(dims)]), int(row[-2]), int(row[-1])) for row in cells],
            {item: int(count) for item, count in items}, _viewer_cells(client, where, parameters))


def newest_job(client, slice_: dict[str, str]) -> str | None:
    clauses, parameters = _slice_where(slice_)
    rows = client.query(f"SELECT argMax(job_id, written_at) FROM safety_health WHERE {' AND '.join(clauses)} "
                        f"HAVING count() > 0", parameters=parameters).result_rows
    return rows[0][0] if rows else None


def run(client, question: Question) -> Explanation:
    now, items_now, viewers_now = _period(client, question, question.window_start_ms, question.window_end_ms)
    before, items_before, viewers_before = _period(client, question, question.baseline_start_ms,
                                                   question.window_start_ms)
    return explain(question.open_dimensions, now, before, items_now, items_before,
                   apart={d: (viewers_now[d], viewers_before[d]) for d in VIEWER_DIMENSIONS})


def cause_rows(question: Question, explanation: Explanation, top: int = 10, explained_ms: int = 0) -> list[list]:
    """The `alert_causes` rows of the `top` causes, of one run (`explained_ms`: readers take a window's newest run,
    so a run that finds fewer causes leaves none of an earlier run's showing)."""
    return [[question.window_start_ms, question.window_end_ms, question.baseline_start_ms, question.job_id,
             question.slice_text, rank, cause.label, list(cause.dimensions), list(cause.values), cause.contribution,
             cause.explanatory_power, cause.mix_effect, cause.rate_effect, cause.share_baseline, cause.share_current,
             cause.rate_baseline, cause.rate_current, cause.score, cause.p_value, cause.p_adjusted, cause.significant,
             explanation.rate_baseline, explanation.rate_current, explanation.change_p_value, METHOD, explained_ms]
            for rank, cause in enumerate(explanation.causes[:top], start=1)]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def render(question: Question, explanation: Explanation, top: int = 10) -> str:
    def at(ms: int, form: str = "%Y-%m-%d %H:%M") -> str:
        return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime(form)

    same_day = at(question.window_start_ms, "%Y%m%d") == at(question.window_end_ms, "%Y%m%d")
    lines = [f"slice {question.slice_text} (job {question.job_id}): unsafe rate {_pct(explanation.rate_current)} "
             f"in {at(question.window_start_ms)}-{at(question.window_end_ms, '%H:%M' if same_day else '%Y-%m-%d %H:%M')} against "
             f"{_pct(explanation.rate_baseline)} from {at(question.baseline_start_ms)} "
             f"({explanation.scored_current} and {explanation.scored_baseline} scored; change "
             f"{100 * explanation.rate_change:+.2f} points, p = {explanation.change_p_value:.2g})"]
    if not explanation.causes:
        return "\n".join(lines + ["no segment moved the rate in the direction of the change"])
    header = ["rank", "cause", "explains", "mix", "rate", "share before->now", "rate before->now", "p adj", ""]
    table = [
        (str(rank), cause.label, f"{100 * cause.explanatory_power:.0f}%", f"{100 * cause.mix_effect:+.2f}",
         f"{100 * cause.rate_effect:+.2f}", f"{_pct(cause.share_baseline)}->{_pct(cause.share_current)}",
         f"{_pct(cause.rate_baseline)}->{_pct(cause.rate_current)}", f"{cause.p_adjusted:.2g}",
         "significant" if cause.significant else "")
        for rank, cause in enumerate(explanation.causes[:top], start=1)]
    lines.append(format_table(header, table))
    lines.append("mix/rate: points of the change from traffic moving to the segment / from its own rate "
                 "(they sum to the segment's part; a dimension's parts sum to the change)")
    return "\n".join(lines)


def add_parser(commands, services_of, parse_time) -> None:
    parser = commands.add_parser("explain", help="rank the segments (category, recommender model version, creator "
                                                 "cohort, items, pairs of them) that drive a slice's unsafe rate "
                                                 "in a window")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--slice", type=slice_argument, help="e.g. surface=shorts,region=br")
    which.add_argument("--alerts", action="store_true",
                       help="every slice the unsafe-rate spike rule has pending or firing at --at (evaluated as "
                            "Grafana does, from the provisioned rules), with the rule's own window and baseline")
    parser.add_argument("--rules", default=str(paths.ALERT_RULES_FILE), help="the alert rules file (for --alerts)")
    parser.add_argument("--at", required=True, type=parse_time, metavar="TIME",
                        help="the end of the window to explain (now, ISO 8601 or epoch ms; rounded down to the minute)")
    parser.add_argument("--window-minutes", type=int,
                        help=f"the window's length (default {WINDOW_MINUTES}; with --alerts the rule's, "
                             f"{SPIKE_WINDOW_MINUTES})")
    parser.add_argument("--baseline-minutes", type=int,
                        help=f"the baseline: this many minutes before the window (default {BASELINE_MINUTES}; "
                             f"with --alerts the rest of the rule's range, {SPIKE_BASELINE_MINUTES})")
    parser.add_argument("--job-id", help="the job whose rows to read (default: the newest that wrote the slice)")
    parser.add_argument("--top", type=int, default=10, help="causes shown (default 10)")
    parser.add_argument("--write", action="store_true", help="keep the ranked causes in ClickHouse (alert_causes)")
    parser.add_argument("--json", action="store_true", help="one JSON object per cause")
    config.add_options(parser, config.SERVICE_OPTIONS + (config.STATE_DIR,))
    parser.set_defaults(handler=lambda args: _explain(args, services_of(args)))


def slice_argument(text: str) -> dict[str, str]:
    try:
        return parse_slice(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def alerting_slices(client, rules_path: Path, at_ms: int) -> list[dict[str, str]]:
    """The (surface, region) slices whose unsafe-rate spike condition holds at `at_ms`: firing, or pending,
    so that the causes are in ClickHouse before the `for` period ends and the notification, which prints
    them (the rule's causes annotation), goes out."""
    from dashboards import rule_eval

    [rule] = [r for r in rule_eval.load(rules_path) if r.uid == SPIKE_RULE]
    return [dict(instance.labels) for instance in rule_eval.evaluate(client, rule, at_ms) if instance.met]


def _explain(args: argparse.Namespace, services: config.ServiceSettings) -> int:
    window = SPIKE_WINDOW_MINUTES if args.alerts else WINDOW_MINUTES
    window = window if args.window_minutes is None else args.window_minutes
    baseline = SPIKE_BASELINE_MINUTES if args.alerts else BASELINE_MINUTES
    baseline = baseline if args.baseline_minutes is None else args.baseline_minutes
    if window < 1 or baseline < 1:
        raise ConfigError("--window-minutes and --baseline-minutes must be at least 1")
    end = args.at - args.at % MINUTE_MS
    settings = services.clickhouse
    client = clickhouse.connect(settings, database=settings.database)  # one connection for every slice
    try:
        slices = alerting_slices(client, Path(args.rules), args.at) if args.alerts else [args.slice]
        if args.alerts and not args.json:
            print(f"{len(slices)} slice(s) with the unsafe-rate spike alert pending or firing")
        explained_ms = int(datetime.now(timezone.utc).timestamp() * 1000)  # one run, one time
        for slice_ in slices:
            _explain_slice(client, args, slice_, end, window, baseline, explained_ms)
    finally:
        client.close()
    return 0


def _explain_slice(client, args: argparse.Namespace, slice_: dict[str, str], end: int, window: int,
                   baseline: int, explained_ms: int) -> None:
    job_id = args.job_id or newest_job(client, slice_)
    if job_id is None:
        raise ConfigError(f"no job wrote rows for slice {slice_}; name one with --job-id")
    question = Question(job_id, slice_, end - window * MINUTE_MS, end, end - (window + baseline) * MINUTE_MS)
    explanation = run(client, question)
    rows = cause_rows(question, explanation, args.top, explained_ms)
    if args.write:
        client.insert("alert_causes", rows, column_names=list(CAUSE_COLUMNS))
    if args.json:
        for row in rows:
            print(json.dumps(dict(zip(CAUSE_COLUMNS, row)), sort_keys=True, default=str))
    else:
        print(render(question, explanation, args.top))
