"""`riskstream trace`: what fed an alert, an aggregate row or an item's verdict, and what followed it.

For a set of safety-health rows (the rows an alert's query read, one row, or the rows whose top lists name an
item) it prints: the Kafka offset ranges that fed them, per partition, for each job; the models and policies
that scored and judged them, with the impressions of each; the items that contributed most unsafe
impressions; and what followed: the alert rule's state and annotations, the causes explain found, breaker
transitions of the slice and the audit trail's records for it.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from dashboards import trace as trace_queries
from riskstream.cli.explain_command import SPIKE_RULE, SPIKE_WINDOW_MINUTES, slice_argument
from riskstream.cli.tables import format_table
from riskstream.core import config, paths
from riskstream.core.errors import ConfigError
from riskstream.io import clickhouse

MINUTE_MS = 60_000


@dataclass(frozen=True)
class Feed:
    """The rows traced, and what fed them."""

    rows: int
    impressions: int
    unsafe: int
    offsets: dict[str, dict[int, tuple[int, int]]]   # job -> partition -> (first, last) offset
    models: dict[str, int]                           # "name:version" -> impressions scored under it
    policies: dict[str, int]                         # policy version -> impressions judged under it
    top_items: list[tuple[str, int, float]]          # (item, unsafe impressions, highest score)


@dataclass
class Trace:
    what: str
    window_from_ms: int
    window_to_ms: int
    fed_by: Feed
    baseline: Feed | None = None
    followed: dict[str, list[dict]] = field(default_factory=dict)


def _where(slice_: dict[str, str], start_ms: int, end_ms: int, job_id: str | None) -> tuple[str, dict]:
    clauses = ["window_seconds = 60", "window_start >= fromUnixTimestamp64Milli({start:Int64}, 'UTC')",
               "window_start < fromUnixTimestamp64Milli({end:Int64}, 'UTC')"]
    parameters: dict = {"start": start_ms, "end": end_ms}
    for index, (name, value) in enumerate(sorted(slice_.items())):
        clauses.append(f"{name} = {{d{index}:String}}")
        parameters[f"d{index}"] = value
    if job_id:
        clauses.append("job_id = {job:String}")
        parameters["job"] = job_id
    return " AND ".join(clauses), parameters


def feed(client, where: str, parameters: dict) -> Feed:
    """What fed the rows matching `where` (read with FINAL: each window's newest revision)."""
    sql = trace_queries.fed_by(f"SELECT * FROM safety_health FINAL WHERE {where}")

    def rows(name: str) -> list:
        return client.query(sql[name], parameters=parameters).result_rows

    [(count, impressions, unsafe)] = rows("totals")
    offsets: dict[str, dict[int, tuple[int, int]]] = {}
    for job, partition, first, last in rows("offsets"):
        offsets.setdefault(job, {})[int(partition)] = (int(first), int(last))
    return Feed(int(count), int(impressions or 0), int(unsafe or 0), offsets,
                {model: int(n) for model, n in rows("models")}, {policy: int(n) for policy, n in rows("policies")},
                [(item, int(n), float(score)) for item, n, score in rows("items")])


def _followed(client, slice_: dict[str, str], start_ms: int, end_ms: int) -> dict[str, list[dict]]:
    """Breaker transitions of the slice from the window on, the causes explain found for it, and the audit
    trail's records naming it."""
    parameters = {"s": slice_.get("surface", ""), "r": slice_.get("region", ""), "start": start_ms, "end": end_ms}
    found = {}
    for name, sql in trace_queries.followed("", "{s:String}", "{r:String}", "{start:Int64}", "{end:Int64}").items():
        result = client.query(sql, parameters=parameters)
        found[name] = [dict(zip(result.column_names, row)) for row in result.result_rows]
    return found


def trace_alert(client, rules_path: Path, slice_: dict[str, str], at_ms: int, job_id: str | None) -> Trace:
    """The unsafe-rate spike alert of a slice at a time: its current window and the baseline its rule read."""
    from dashboards import rule_eval

    [rule] = [r for r in rule_eval.load(rules_path) if r.uid == SPIKE_RULE]
    window_start = at_ms - SPIKE_WINDOW_MINUTES * MINUTE_MS
    current = feed(client, *_where(slice_, window_start, at_ms, job_id))
    baseline = feed(client, *_where(slice_, at_ms - rule.range_from_s * 1000, window_start, job_id))
    trace = Trace(f"alert {SPIKE_RULE} {slice_}", window_start, at_ms, current, baseline,
                  _followed(client, slice_, window_start, at_ms))
    labels = tuple(sorted(slice_.items()))
    trace.followed["alert"] = [{"state": i.state, "value": i.value, **i.annotations}
                               for i in rule_eval.evaluate(client, rule, at_ms)
                               if tuple(sorted(i.labels)) == labels]
    return trace


def trace_row(client, slice_: dict[str, str], window_start_ms: int, job_id: str | None) -> Trace:
    if set(slice_) != {"surface", "region", "recommender_model_version", "item_category"}:
        raise ConfigError("--row: name all four dimensions (surface, region, recommender_model_version, item_category)")
    return Trace(f"row {slice_} at {_at(window_start_ms)}", window_start_ms, window_start_ms + MINUTE_MS,
                 feed(client, *_where(slice_, window_start_ms, window_start_ms + MINUTE_MS, job_id)), None,
                 _followed(client, slice_, window_start_ms, window_start_ms + MINUTE_MS))


def trace_item(client, item_id: str, job_id: str | None) -> Trace:
    """Every window whose top-unsafe list names the item, and the label outcomes of the item."""
    where = "window_seconds = 60 AND has(top_unsafe_items.item_id, {item:String})"
    parameters: dict = {"item": item_id}
    if job_id:
        where += " AND job_id = {job:String}"
        parameters["job"] = job_id
    span = client.query(f"SELECT toUnixTimestamp64Milli(min(window_start)), toUnixTimestamp64Milli(max(window_end)) "
                        f"FROM safety_health FINAL WHERE {where}", parameters=parameters).result_rows[0]
    result = client.query("SELECT labeled_at, category, human_violating, model_score, model_flagged, model_version, "
                          "policy_version, job_id FROM label_outcomes FINAL WHERE item_id = {item:String} "
                          "ORDER BY labeled_at", parameters={"item": item_id})
    trace = Trace(f"item {item_id}", int(span[0] or 0), int(span[1] or 0), feed(client, where, parameters))
    trace.followed["labels"] = [dict(zip(result.column_names, row)) for row in result.result_rows]
    return trace


def _at(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def render(trace: Trace) -> str:
    lines = [f"{trace.what}: windows {_at(trace.window_from_ms)} to {_at(trace.window_to_ms)}"]
    for name, fed in (("fed by", trace.fed_by), ("baseline", trace.baseline)):
        if fed is None:
            continue
        lines.append(f"{name}: {fed.rows} rows, {fed.impressions} impressions, {fed.unsafe} unsafe")
        lines += [f"  job {job} partition {p}: offsets {first}-{last}"
                  for job, parts in fed.offsets.items() for p, (first, last) in sorted(parts.items())]
        lines.append("  models: " + ", ".join(f"{m} ({n} scored)" for m, n in fed.models.items()))
        lines.append("  policies: " + ", ".join(f"{p} ({n} judged)" for p, n in fed.policies.items()))
        if name == "fed by" and fed.top_items:
            lines.append(format_table(["  top item", "unsafe impressions", "highest score"],
                                      [(f"  {i}", n, f"{s:.3f}") for i, n, s in fed.top_items]))
    for name, entries in trace.followed.items():
        lines.append(f"{name.replace('_', ' ')}: " + ("none" if not entries else ""))
        lines += [f"  {json.dumps(e, default=str, sort_keys=True)}" for e in entries]
    return "\n".join(lines)


def add_parser(commands, services_of, parse_time) -> None:
    parser = commands.add_parser("trace", help="the offsets, models, policies and items that fed an alert, an "
                                               "aggregate row or an item's windows, and what followed")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--alert", action="store_true", help=f"the {SPIKE_RULE} alert of --slice at --at")
    which.add_argument("--row", action="store_true", help="the 1-minute row of --slice (all four dimensions) "
                                                          "whose window starts at --at")
    which.add_argument("--item", help="an item: every window whose top-unsafe list names it, and its labels")
    parser.add_argument("--slice", type=slice_argument, help="e.g. surface=shorts,region=br")
    parser.add_argument("--at", type=parse_time, metavar="TIME", help="the alert's evaluation time, or the row's "
                                                                      "window start")
    parser.add_argument("--job-id", help="only this job's rows")
    parser.add_argument("--rules", default=str(paths.ALERT_RULES_FILE), help="the alert rules file (for --alert)")
    parser.add_argument("--json", action="store_true", help="the trace as one JSON object")
    config.add_options(parser, config.SERVICE_OPTIONS + (config.STATE_DIR,))
    parser.set_defaults(handler=lambda args: _trace(args, services_of(args)))


def _trace(args: argparse.Namespace, services: config.ServiceSettings) -> int:
    if (args.alert or args.row) and (args.slice is None or args.at is None):
        raise ConfigError("trace --alert and --row need --slice and --at")
    settings = services.clickhouse
    client = clickhouse.connect(settings, database=settings.database)
    try:
        if args.alert:
            trace = trace_alert(client, Path(args.rules), args.slice, args.at - args.at % MINUTE_MS, args.job_id)
        elif args.row:
            trace = trace_row(client, args.slice, args.at, args.job_id)
        else:
            trace = trace_item(client, args.item, args.job_id)
    finally:
        client.close()
    print(json.dumps(asdict(trace), default=str, sort_keys=True) if args.json else render(trace))
    return 0 if trace.fed_by.rows else 1
