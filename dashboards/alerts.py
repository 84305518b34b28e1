"""Alert rules, as Grafana unified-alerting file provisioning (apiVersion 1).

Each rule is one ClickHouse query (refId A) that returns one row per label set (string columns become
labels, the one numeric column is the value) and a threshold expression on it (refId C): Grafana's
multi-dimensional alerting, one alert instance per surface where the query is per surface. A rule may add
context queries (refId B on): their rows are matched to an instance by its labels as Grafana matches them
(equal, or one set holding the other), so an annotation can print their labels (`$values.B.Labels.x`)
without making them part of the alert's identity.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from dashboards.clickhouse_query import PLUGIN_ID

FOLDER = "riskstream alerts"
GROUP_INTERVAL_S = 60
EXPRESSION_DATASOURCE = "__expr__"
RUNBOOKS = "dashboards/RUNBOOKS.md"


@dataclass(frozen=True)
class Threshold:
    """Grafana's threshold expression: `gt` / `lt` one value, or `within_range` / `outside_range` two."""

    kind: str
    params: tuple[float, ...]

    def met(self, value: float) -> bool:
        if self.kind == "gt":
            return value > self.params[0]
        if self.kind == "lt":
            return value < self.params[0]
        low, high = self.params
        inside = low < value < high
        return inside if self.kind == "within_range" else not inside


@dataclass(frozen=True)
class AlertRule:
    uid: str
    title: str
    sql: str                      # the plugin's macros allowed; refId A
    threshold: Threshold          # on A's value; refId C, the condition
    range_s: int                  # the query's relative time range: [now - range_s, now]
    pending: str                  # Grafana's `for`
    severity: str
    team: str
    summary: str
    description: str
    no_data_state: str = "OK"     # most rules: no rows means nothing to judge; the stall rule says otherwise
    exec_err_state: str = "Error"
    labels: dict[str, str] = field(default_factory=dict)
    # refId -> SQL over the same range; each must return a row for every instance of A (a query without rows
    # makes Grafana judge the whole rule NoData).
    context: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)  # beside summary and description


def _spike_causes(database: str, health: str) -> str:
    """Per (surface, region) of the spike rule's range: the top three causes that the newest
    `riskstream explain --alerts --write` run of the last 15 minutes found for it (the CronJob runs it every
    minute, on pending instances too, so the causes are there before the `for` period ends and the
    notification goes out). A string label, so the annotation can print it; the value is how many."""
    # Each macro is closed by a parenthesis: the plugin takes the next (...) after a macro as its arguments.
    recent = "window_end > ($__toTime - INTERVAL 15 MINUTE) AND window_end <= ($__toTime)"
    return f"""
SELECT s.surface AS surface, s.region AS region,
       if(c.found = 0, 'not explained yet (riskstream explain --alerts runs every minute)', c.causes) AS top_causes,
       toFloat64(c.found) AS causes_found
FROM (SELECT DISTINCT surface, region FROM {health}
      WHERE $__timeFilter(window_start) AND window_seconds = 60) AS s
LEFT JOIN (
    SELECT slice, count() AS found,
           arrayStringConcat(arrayMap(c -> concat(toString(c.1), '. ', c.2, ': ', toString(c.3), '% of the change (rate ',
                                                  toString(c.4), ' pts, mix ', toString(c.5), ' pts)'),
                                      arraySort(groupArray((rank, cause, round(100 * explanatory_power),
                                                            round(100 * rate_effect, 2), round(100 * mix_effect, 2))))),
                             '; ') AS causes
    FROM {database}.alert_causes FINAL
    WHERE {recent} AND rank <= 3
      AND (slice, explained_at) IN (SELECT slice, max(explained_at) FROM {database}.alert_causes
                                    WHERE {recent} GROUP BY slice)
    GROUP BY slice
) AS c ON c.slice = concat('surface=', s.surface, ',region=', s.region)
ORDER BY surface, region"""


def _safety_health(database: str) -> str:
    return f"{database}.safety_health FINAL"


def rules(database: str = "riskstream") -> list[AlertRule]:
    health = _safety_health(database)
    return [
        AlertRule(
            uid="riskstream-unsafe-rate-spike", title="Unsafe rate spike",
            # Last 10 minutes against the trailing baseline before them, per surface and region. The
            # value is a z-score of the current rate under the baseline rate, kept only where the rate is
            # also 1.5x the baseline: big slices would otherwise fire on tiny, significant changes.
            sql=f"""
SELECT surface, region,
       if(current_rate >= 1.5 * baseline_rate,
          (current_rate - baseline_rate) / sqrt(greatest(baseline_rate * (1 - baseline_rate), 0.0001) / current_scored),
          0) AS unsafe_rate_z
FROM (
    SELECT surface, region,
           sumIf(scored, window_start >= $__toTime - INTERVAL 10 MINUTE) AS current_scored,
           sumIf(unsafe, window_start >= $__toTime - INTERVAL 10 MINUTE) / greatest(current_scored, 1) AS current_rate,
           sumIf(scored, window_start < $__toTime - INTERVAL 10 MINUTE) AS baseline_scored,
           sumIf(unsafe, window_start < $__toTime - INTERVAL 10 MINUTE) / greatest(baseline_scored, 1) AS baseline_rate
    FROM {health}
    WHERE $__timeFilter(window_start) AND window_seconds = 60
    GROUP BY surface, region
)
WHERE current_scored >= 100 AND baseline_scored >= 200
ORDER BY surface, region""",
            threshold=Threshold("gt", (4.0,)), range_s=3 * 3600, pending="3m",
            severity="critical", team="trust-safety",
            summary="Unsafe rate on {{ $labels.surface }} in {{ $labels.region }} is far above its 3-hour baseline",
            description="z-score {{ $values.A.Value }} of the last 10 minutes' unsafe rate against the "
                        "3 hours before (and at least 1.5x it). What drives it: the causes annotation (the top "
                        "three that explain found while the alert was pending); in full: `riskstream explain --slice "
                        "surface={{ $labels.surface }},region={{ $labels.region }} --at <now> --window-minutes 10 "
                        "--baseline-minutes 170`, or the overview's Why panel where `explain --alerts --write` runs.",
            context={"B": _spike_causes(database, health)},
            annotations={"causes": "{{ $values.B.Labels.top_causes }}"}),
        AlertRule(
            uid="riskstream-coverage-drop", title="Scoring coverage drop",
            sql=f"""
SELECT surface, sum(scored) / sum(impressions) AS coverage
FROM {health}
WHERE $__timeFilter(window_start) AND window_seconds = 60
GROUP BY surface
HAVING sum(impressions) >= 50
ORDER BY surface""",
            threshold=Threshold("lt", (0.95,)), range_s=600, pending="3m",
            severity="critical", team="ml-platform",
            summary="Only {{ humanizePercentage $values.A.Value }} of impressions on {{ $labels.surface }} were scored",
            description="Unscored items are counted, never treated as safe, but nobody sees their risk: "
                        "Triton is down, slow (timeouts) or rejecting requests."),
        AlertRule(
            uid="riskstream-dead-letter-rate", title="Dead-letter rate",
            sql=f"""
SELECT dead / greatest(dead + valid, 1) AS dead_letter_rate
FROM (
    SELECT (SELECT count() FROM {database}.dead_letters FINAL WHERE $__timeFilter(source_timestamp)) AS dead,
           (SELECT sum(impressions) FROM {health}
            WHERE $__timeFilter(window_start) AND window_seconds = 60) AS valid
)""",
            threshold=Threshold("gt", (0.01,)), range_s=600, pending="5m",
            severity="warning", team="data-platform",
            summary="{{ humanizePercentage $values.A.Value }} of impression records were dead-lettered",
            description="A producer is sending records the job cannot decode (see dead_letters.error_class); "
                        "they are kept on the dead-letter topic with their raw bytes."),
        AlertRule(
            uid="riskstream-breaker-open", title="Circuit breaker open",
            # Each slice's newest transition by event time: 1 while its breaker is open or half-open.
            sql=f"""
SELECT surface, region, recommender_model_version,
       toFloat64(argMax(to_state, window_end) != 'closed') AS breaker_open
FROM {database}.breaker_transitions FINAL
WHERE $__timeFilter(window_end)
GROUP BY surface, region, recommender_model_version
ORDER BY surface, region, recommender_model_version""",
            threshold=Threshold("gt", (0.5,)), range_s=7 * 24 * 3600, pending="0s",
            severity="critical", team="riskstream-oncall",
            summary="The circuit breaker of {{ $labels.surface }} / {{ $labels.region }} / "
                    "{{ $labels.recommender_model_version }} is open",
            description="Its unsafe rate rose well above its own baseline (see breaker_transitions for the "
                        "evidence). The recommender's guard demotes or drops that slice's items until the "
                        "breaker closes."),
        AlertRule(
            uid="riskstream-model-bias", title="Safety model biased against a creator cohort",
            # The newest `riskstream bias --write` run in the range (a CronJob runs it hourly): 1 per finding
            # whose Benjamini-Hochberg adjusted p-value is below the run's alpha.
            sql=f"""
SELECT cohort, category, metric, toFloat64(significant) AS disparity
FROM {database}.bias_findings FINAL
WHERE evaluated_at = (SELECT max(evaluated_at) FROM {database}.bias_findings WHERE $__timeFilter(evaluated_at))
  AND p_value IS NOT NULL
ORDER BY cohort, category, metric""",
            threshold=Threshold("gt", (0.5,)), range_s=3 * 3600, pending="0s",
            severity="warning", team="trust-safety-ml",
            summary="The safety model's {{ $labels.metric }} ({{ $labels.category }}) is higher for creator cohort "
                    "{{ $labels.cohort }} than for the others, beyond chance",
            description="Measured against human labels (random_sample queue); see the model-bias dashboard and "
                        "`riskstream bias --to now --hours 24` for the rates, intervals and adjusted p-values."),
        AlertRule(
            uid="riskstream-pipeline-stalled", title="Safety-health pipeline stalled",
            # No window ended in the last hour reads as 1970, so a stopped job fires too.
            sql=f"""
SELECT dateDiff('second', max(window_end), $__toTime) AS seconds_since_last_window
FROM {health}
WHERE $__timeFilter(window_end) AND window_seconds = 60""",
            threshold=Threshold("gt", (600.0,)), range_s=3600, pending="2m",
            severity="critical", team="riskstream-oncall", no_data_state="Alerting",
            summary="No safety-health window has closed for {{ $values.A.Value }} seconds",
            description="Analysts see stale data. The job is down, its input stopped, or its watermark is "
                        "stuck (a partition without idle timeout, or Kafka unreachable)."),
    ]


def _query(rule: AlertRule, datasource_uid: str, ref_id: str = "A", sql: str | None = None) -> dict:
    return {
        "refId": ref_id,
        "relativeTimeRange": {"from": rule.range_s, "to": 0},
        "datasourceUid": datasource_uid,
        "model": {"refId": ref_id, "datasource": {"type": PLUGIN_ID, "uid": datasource_uid},
                  "editorType": "sql", "format": 1, "queryType": "table", "rawSql": (sql or rule.sql).strip()},
    }


def _condition(rule: AlertRule) -> dict:
    return {
        "refId": "C",
        "relativeTimeRange": {"from": 0, "to": 0},
        "datasourceUid": EXPRESSION_DATASOURCE,
        "model": {"refId": "C", "type": "threshold", "expression": "A",
                  "datasource": {"type": "__expr__", "uid": EXPRESSION_DATASOURCE},
                  "conditions": [{"evaluator": {"type": rule.threshold.kind, "params": list(rule.threshold.params)},
                                  "type": "query"}]},
    }


def rule_groups(datasource_uid: str, database: str, runbook_base_url: str) -> dict:
    """The provisioning file: one group, evaluated every minute, in the alerts folder."""
    return {
        "apiVersion": 1,
        "groups": [{
            "orgId": 1,
            "name": "riskstream-safety-health",
            "folder": FOLDER,
            "interval": f"{GROUP_INTERVAL_S}s",
            "rules": [{
                "uid": rule.uid,
                "title": rule.title,
                "condition": "C",
                "data": [_query(rule, datasource_uid), _condition(rule),
                         *(_query(rule, datasource_uid, ref_id, sql) for ref_id, sql in rule.context.items())],
                "noDataState": rule.no_data_state,
                "execErrState": rule.exec_err_state,
                "for": rule.pending,
                "annotations": {"summary": rule.summary, "description": rule.description, **rule.annotations,
                                "runbook_url": f"{runbook_base_url}/{RUNBOOKS}#{rule.uid}"},
                "labels": {"severity": rule.severity, "team": rule.team, **rule.labels},
                "isPaused": False,
            } for rule in rules(database)],
        }],
    }
