"""Model bias against human labels: does the safety model flag some creator cohorts' content more often
than people judge it violating?

Read from `label_outcomes` (the job's join of moderation labels to the items' verdicts), over the labels of
the reviewer queue `random_sample` (an unbiased sample of traffic; other queues select what was reported or
flagged, and their rates say nothing about traffic), each label counted once per job, as an item: flagged in
any reviewed category, violating any. The intervals are Wilson score intervals (95%), computed in SQL here
and by statsmodels in `riskstream bias`; the disparities table is what `riskstream bias --write` found
(one-sided two-proportion tests of each cohort against the rest, Benjamini-Hochberg corrected), which the
model-bias alert rule reads too.
"""
from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dashboards import panels

UID = "riskstream-model-bias"
QUEUE = "random_sample"
Z95 = 1.959963984540054  # the normal quantile of a two-sided 95% interval


# One row per label (of label_outcomes' rows, one per reviewed category) whose item the job had scored: the
# item is flagged when the model flagged any reviewed category, violating when the reviewer found any.
# `riskstream bias` tallies its `any` category from the same rows.
PER_LABEL = ("label_id, any(labeled_at) AS label_time, any(creator_cohort) AS cohort, "
             "max(assumeNotNull(model_flagged)) AS is_flagged, max(human_violating) AS is_violating")
SCORED_LABELS = "GROUP BY label_id HAVING countIf(model_score IS NULL) = 0"


def _labelled_items(database: str) -> str:
    """One row per label of the job and queue in the range whose item the job had scored."""
    return f"""
    SELECT {PER_LABEL}
    FROM {database}.label_outcomes FINAL
    WHERE $__timeFilter(labeled_at) AND job_id = '${{job}}' AND reviewer_queue = '{QUEUE}'
    {SCORED_LABELS}"""


def _wilson(successes: str, trials: str, sign: str) -> str:
    """One bound of the Wilson score interval of successes/trials, as a percentage."""
    p, n = f"({successes} / {trials})", trials
    return (f"round(100 * ({p} + {Z95 ** 2} / (2 * {n}) {sign} {Z95} * sqrt({p} * (1 - {p}) / {n} "
            f"+ {Z95 ** 2} / (4 * {n} * {n}))) / (1 + {Z95 ** 2} / {n}), 2)")


def _cohorts_against_labels(database: str) -> str:
    return f"""
SELECT cohort, labelled,
       round(100 * flagged / labelled, 2) AS flag_pct,
       if(benign > 0, round(100 * false_positives / benign, 2), NULL) AS false_positive_pct,
       if(benign > 0, {_wilson("false_positives", "benign", "-")}, NULL) AS fp_low_pct,
       if(benign > 0, {_wilson("false_positives", "benign", "+")}, NULL) AS fp_high_pct,
       if(violating > 0, round(100 * false_negatives / violating, 2), NULL) AS false_negative_pct,
       if(violating > 0, {_wilson("false_negatives", "violating", "-")}, NULL) AS fn_low_pct,
       if(violating > 0, {_wilson("false_negatives", "violating", "+")}, NULL) AS fn_high_pct
FROM (
    SELECT cohort, count() AS labelled, countIf(is_flagged) AS flagged, countIf(NOT is_violating) AS benign,
           countIf(is_flagged AND NOT is_violating) AS false_positives, countIf(is_violating) AS violating,
           countIf(NOT is_flagged AND is_violating) AS false_negatives
    FROM ({_labelled_items(database)})
    GROUP BY cohort
)
ORDER BY false_positive_pct DESC"""


def _false_positive_rate_over_time(database: str) -> str:
    return f"""
SELECT $__timeInterval(label_time) AS time, cohort,
       countIf(is_flagged AND NOT is_violating) / greatest(countIf(NOT is_violating), 1) AS false_positive_rate
FROM ({_labelled_items(database)})
GROUP BY time, cohort ORDER BY time"""


def _coverage(database: str) -> str:
    """Labels whose item the job had scored when the label was joined, of all labels."""
    return f"""
SELECT $__timeInterval(labeled_at) AS time, uniqExactIf(label_id, model_score IS NOT NULL) / uniqExact(label_id) AS scored_share
FROM {database}.label_outcomes FINAL
WHERE $__timeFilter(labeled_at) AND job_id = '${{job}}'
GROUP BY time ORDER BY time"""


def _disparities(database: str) -> str:
    """The newest `riskstream bias --write` run of the job in the range: its significant findings first."""
    return f"""
SELECT category, cohort, metric, round(100 * rate, 2) AS cohort_pct,
       concat(toString(round(100 * ci_low, 2)), '-', toString(round(100 * ci_high, 2))) AS wilson_95_pct,
       round(100 * rest_rate, 2) AS rest_pct, trials, p_adjusted, significant
FROM {database}.bias_findings FINAL
WHERE job_id = '${{job}}' AND evaluated_at = (
    SELECT max(evaluated_at) FROM {database}.bias_findings WHERE job_id = '${{job}}' AND $__timeFilter(evaluated_at))
ORDER BY significant DESC, p_adjusted ASC NULLS LAST"""


def queries(database: str) -> dict[str, str]:
    return {"Creator cohorts against human labels": _cohorts_against_labels(database),
            "False positive rate by creator cohort": _false_positive_rate_over_time(database),
            "Labels whose item the job had scored": _coverage(database),
            "Disparities (riskstream bias)": _disparities(database)}


def build(datasource_uid: str, database: str = "riskstream") -> dashboard.Dashboard:
    sql = queries(database)
    return (
        panels.riskstream_dashboard("Model bias against human labels", UID, ["safety", "cohorts", "labels"], database,
                                    datasource_uid, refresh="5m", since="now-7d")
        .with_panel(panels.ranked_table(
            "Creator cohorts against human labels", sql["Creator cohorts against human labels"], datasource_uid,
            f"Per creator cohort, over the {QUEUE} queue's labels in the range: how often the model flags its items, "
            "its false positive rate (flagged among items people found benign) and false negative rate (not flagged "
            "among items people found violating), each with its 95% Wilson interval."))
        .with_panel(panels.time_series(
            "False positive rate by creator cohort", sql["False positive rate by creator cohort"], datasource_uid,
            "percentunit", "Benign items the model flagged, per cohort: a cohort above the others is over-enforced."))
        .with_panel(panels.ranked_table(
            "Disparities (riskstream bias)", sql["Disparities (riskstream bias)"], datasource_uid,
            "The newest `riskstream bias --write` run: each cohort's rate against the rest's, one-sided "
            "two-proportion test, Benjamini-Hochberg adjusted p-value; significant rows first."))
        .with_panel(panels.time_series(
            "Labels whose item the job had scored", sql["Labels whose item the job had scored"], datasource_uid,
            "percentunit", "Labels for items the job never scored (or no longer remembers) count in no rate."))
    )
