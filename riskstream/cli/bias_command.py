"""`riskstream bias`: does the safety model treat some creator cohorts' content differently from how
people judge it? (udfs/bias.py on the job's `label_outcomes` rows.)

Counts, per safety category (and `any`: flagged in any reviewed category against violating any) and creator
cohort, the labelled items the job had scored, over labels made in [--to minus --hours, --to); each label
counted once (the newest row of it). `--write` keeps the findings in `bias_findings`, where the bias
dashboard and the model-bias alert rule read them.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import datetime, timezone

from dashboards import model_bias
from riskstream.core import config
from riskstream.core.errors import ConfigError
from riskstream.cli.tables import format_table
from riskstream.cli.label_rows import RANDOM_SAMPLE, LabelRange
from riskstream.io import clickhouse
from udfs.bias import ALPHA, ANY_CATEGORY, MIN_TRIALS, Counts, Finding, assess

FINDING_COLUMNS = ("evaluated_at", "range_start", "range_end", "job_id", "reviewer_queue", "category", "cohort",
                   "metric", "successes", "trials", "rate", "ci_low", "ci_high", "rest_successes", "rest_trials",
                   "rest_rate", "z", "p_value", "p_adjusted", "significant", "alpha")
_TALLY = ("count() AS labelled, countIf(is_flagged) AS flagged, countIf(NOT is_violating) AS benign, "
          "countIf(is_flagged AND NOT is_violating) AS false_positives, countIf(is_violating) AS violating, "
          "countIf(NOT is_flagged AND is_violating) AS false_negatives")


def count(client, labels: LabelRange) -> dict[tuple[str, str], Counts]:
    """(category or `any`, creator cohort) -> counts of the scored labelled items."""
    newest, parameters = labels.newest("label_id, labeled_at, category, creator_cohort, model_flagged, "
                                       "human_violating, model_score")
    per_category = (f"SELECT category, creator_cohort, {_TALLY} FROM (SELECT category, creator_cohort, "
                    f"assumeNotNull(model_flagged) AS is_flagged, human_violating AS is_violating FROM ({newest}) "
                    f"WHERE model_score IS NOT NULL) GROUP BY category, creator_cohort")
    per_item = (f"SELECT '{ANY_CATEGORY}' AS category, cohort AS creator_cohort, {_TALLY} FROM (SELECT "
                f"{model_bias.PER_LABEL} FROM ({newest}) {model_bias.SCORED_LABELS}) GROUP BY cohort")
    rows = client.query(f"{per_category} UNION ALL {per_item}", parameters=parameters).result_rows
    return {(category, cohort): Counts(*map(int, tallies)) for category, cohort, *tallies in rows}


def finding_rows(findings: list[Finding], evaluated_ms: int, labels: LabelRange, alpha: float) -> list[list]:
    return [[evaluated_ms, labels.start_ms, labels.end_ms, labels.job_id or "", labels.queue or "", f.category, f.cohort, f.metric, f.successes,
             f.trials, f.rate, f.ci_low, f.ci_high, f.rest_successes, f.rest_trials, f.rest_rate, f.z, f.p_value,
             f.p_adjusted, f.significant, alpha] for f in findings]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def render(findings: list[Finding], start_ms: int, end_ms: int, alpha: float) -> str:
    def at(ms: int) -> str:
        return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M")

    tested = sorted((f for f in findings if f.tested), key=lambda f: (f.p_adjusted, f.category, f.cohort, f.metric))
    lines = [f"labels {at(start_ms)} to {at(end_ms)}: {len(tested)} tests, "
             f"{sum(f.significant for f in tested)} significant disparities (BH-adjusted p < {alpha})"]
    header = ["category", "cohort", "rate", "cohort", "95% Wilson", "rest", "p adj", ""]
    table = [
        (f.category, f.cohort, f.metric, f"{_pct(f.rate)} ({f.successes}/{f.trials})",
         f"{_pct(f.ci_low)}-{_pct(f.ci_high)}", f"{_pct(f.rest_rate)} ({f.rest_successes}/{f.rest_trials})",
         f"{f.p_adjusted:.2g}", "HIGHER" if f.significant else "") for f in tested]
    lines.append(format_table(header, table))
    lines.append("HIGHER: the cohort's rate is above the other cohorts' together, beyond chance (one-sided "
                 "two-proportion z-test, Benjamini-Hochberg over every test shown)")
    if len(tested) < len(findings):
        lines.append(f"{len(findings) - len(tested)} rates untested (under the minimum of items on a side, or no "
                     f"variation): --json lists every rate")
    return "\n".join(lines)


def _bias(args: argparse.Namespace, services: config.ServiceSettings) -> int:
    if args.hours <= 0 or not 0 < args.alpha < 1 or args.min_trials < 1:
        raise ConfigError("--hours must be > 0, --alpha in (0, 1) and --min-trials at least 1")
    labels = LabelRange.hours_before(args.to, args.hours, args.job_id, args.queue)
    settings = services.clickhouse
    client = clickhouse.connect(settings, database=settings.database)
    try:
        counts = count(client, labels)
        findings = assess(counts, args.alpha, args.min_trials)
        if args.write and findings:
            evaluated = int(datetime.now(timezone.utc).timestamp() * 1000)
            client.insert("bias_findings", finding_rows(findings, evaluated, labels, args.alpha),
                          column_names=list(FINDING_COLUMNS))
    finally:
        client.close()
    if args.json:
        for finding in findings:
            print(json.dumps(asdict(finding), sort_keys=True))
    else:
        print(render(findings, labels.start_ms, labels.end_ms, args.alpha) if findings else "no scored labelled items in the range")
    return 0


def add_parser(commands, services_of, parse_time) -> None:
    parser = commands.add_parser("bias", help="flag, false positive and false negative rates of the safety model "
                                              "per creator cohort against human labels, with the disparities "
                                              "beyond chance")
    parser.add_argument("--to", type=parse_time, default="now", metavar="TIME",
                        help="end of the labels' time range (now, ISO 8601 or epoch ms; default now)")
    parser.add_argument("--hours", type=float, default=24.0, help="length of the range (default 24)")
    parser.add_argument("--job-id", help="only this job's rows (default: every job's, each label once)")
    parser.add_argument("--queue", default=RANDOM_SAMPLE,
                        help=f"the reviewer queue whose labels count (default {RANDOM_SAMPLE}, an unbiased sample "
                             f"of traffic; 'all' for every queue)")
    parser.add_argument("--alpha", type=float, default=ALPHA, help=f"false discovery rate (default {ALPHA})")
    parser.add_argument("--min-trials", type=int, default=MIN_TRIALS,
                        help=f"fewest items on each side for a test (default {MIN_TRIALS})")
    parser.add_argument("--write", action="store_true", help="keep the findings in ClickHouse (bias_findings)")
    parser.add_argument("--json", action="store_true", help="one JSON object per finding")
    config.add_options(parser, config.SERVICE_OPTIONS + (config.STATE_DIR,))
    parser.set_defaults(handler=lambda args: _bias(args, services_of(args)))
