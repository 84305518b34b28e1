"""The safety-health overview: what analysts open first."""
from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dashboards import panels, quantiles, trace

UID = "riskstream-safety-overview"


def _table(database: str) -> str:
    # Latest revision of each row (FINAL).
    return f"{database}.safety_health FINAL"


# One job's tumbling 1-minute rows inside the dashboard's time range.
FILTER = "$__timeFilter(window_start) AND window_seconds = 60 AND job_id = '${job}'"


def queries(database: str) -> dict[str, str]:
    """Panel title -> SQL with the ClickHouse plugin's macros."""
    source = f"{_table(database)} WHERE {FILTER}"
    table = _table(database)
    return {
        "Unsafe rate by surface": f"""
SELECT $__timeInterval(window_start) AS time, surface, sum(unsafe) / greatest(sum(scored), 1) AS unsafe_rate
FROM {source}
GROUP BY time, surface ORDER BY time""",
        "Exposure-weighted harm by surface": f"""
SELECT $__timeInterval(window_start) AS time, surface, sum(harm) AS harm
FROM {source}
GROUP BY time, surface ORDER BY time""",
        "Coverage (scored / impressions)": f"""
SELECT $__timeInterval(window_start) AS time, sum(scored) / greatest(sum(impressions), 1) AS coverage
FROM {source}
GROUP BY time ORDER BY time""",
        "Safety score quantiles": quantiles.quantiles_over_time_sql(table, FILTER),
        "Top unsafe categories": f"""
SELECT category, sum(count) AS unsafe_impressions
FROM {table}
ARRAY JOIN mapKeys(unsafe_by_category) AS category, mapValues(unsafe_by_category) AS count
WHERE {FILTER}
GROUP BY category ORDER BY unsafe_impressions DESC""",
        "Top unsafe items": panels.top_unsafe_items_sql(table, FILTER, "groupUniqArray(surface) AS surfaces"),
        # What `riskstream explain --write` (or --alerts, run every minute) found for each window it explained.
        "Why: causes of explained windows": f"""
SELECT window_end AS until, slice, rank, cause, round(100 * explanatory_power) AS explains_pct,
       round(100 * mix_effect, 2) AS mix_points, round(100 * rate_effect, 2) AS rate_points,
       round(100 * slice_rate_baseline, 2) AS slice_rate_before_pct,
       round(100 * slice_rate_current, 2) AS slice_rate_now_pct, significant
FROM {database}.alert_causes FINAL
WHERE $__timeFilter(window_end) AND job_id = '${{job}}' AND rank <= 3
  AND (slice, window_end, explained_at) IN (
      SELECT slice, window_end, max(explained_at) FROM {database}.alert_causes
      WHERE $__timeFilter(window_end) AND job_id = '${{job}}' GROUP BY slice, window_end)
ORDER BY until DESC, slice, rank LIMIT 100""",
        # Every transition of the job, also before the range: each holds until the next, so the state at the
        # range's start shows.
        "Circuit breaker states": f"""
SELECT window_end AS time, concat(surface, '/', region, '/', recommender_model_version) AS slice,
       multiIf(to_state = 'open', 2, to_state = 'half_open', 1, 0) AS state
FROM {database}.breaker_transitions FINAL
WHERE job_id = '${{job}}' AND window_end <= $__toTime
ORDER BY time""",
        "Circuit breaker transitions": f"""
SELECT window_end AS since, surface, region, recommender_model_version, from_state, to_state,
       scored, unsafe, round(rate, 3) AS rate, round(baseline_rate, 3) AS baseline_rate, round(z, 1) AS z,
       reason, policy_version, toUnixTimestamp64Milli(window_end) AS at_ms
FROM {database}.breaker_transitions FINAL
WHERE $__timeFilter(window_end) AND job_id = '${{job}}'
ORDER BY since DESC LIMIT 100""",
        "Shadow policy: unsafe rate in force vs if enforced": f"""
SELECT $__timeInterval(window_start) AS time, shadow_policy_version,
       sum(unsafe_active) / greatest(sum(scored), 1) AS in_force,
       sum(unsafe_shadow) / greatest(sum(scored), 1) AS if_enforced
FROM {database}.shadow_health FINAL WHERE {FILTER}
GROUP BY time, shadow_policy_version ORDER BY time""",
    }


BREAKER_STATES = {0: ("closed", "green"), 1: ("half-open", "yellow"), 2: ("open", "red")}


def build(datasource_uid: str, database: str = "riskstream") -> dashboard.Dashboard:
    """The overview dashboard for one ClickHouse data source and database."""
    sql = queries(database)
    return (
        panels.riskstream_dashboard("Safety health overview", UID, ["safety"], database, datasource_uid)
        .with_panel(panels.time_series("Unsafe rate by surface", sql["Unsafe rate by surface"], datasource_uid,
                                       "percentunit", "Share of scored impressions unsafe in any category, per policy. "
                                       "Click a point to trace what fed the surface's last 10 minutes.")
                    .data_links([trace.link("Trace: what fed it", {"surface": "${__field.labels.surface}"},
                                            "${__value.time}")]))
        .with_panel(panels.time_series("Exposure-weighted harm by surface", sql["Exposure-weighted harm by surface"],
                                       datasource_uid, "short", "Sum over impressions of the item's highest safety score."))
        .with_panel(panels.time_series("Coverage (scored / impressions)", sql["Coverage (scored / impressions)"],
                                       datasource_uid, "percentunit", "Below 100% means Triton could not score some items."))
        .with_panel(panels.time_series("Safety score quantiles", sql["Safety score quantiles"], datasource_uid,
                                       "short", "Of every scored impression's highest score in each interval, from the "
                                       "rows' merged score histograms: within 0.5% of the exact quantile."))
        .with_panel(panels.ranked_bars("Top unsafe categories", sql["Top unsafe categories"], datasource_uid, "short",
                                       "Unsafe impressions per safety category in the time range."))
        .with_panel(panels.ranked_table("Top unsafe items", sql["Top unsafe items"], datasource_uid,
                                        "Items with the most unsafe impressions, from each window's top-10 list."))
        .with_panel(panels.ranked_table(
            "Why: causes of explained windows", sql["Why: causes of explained windows"], datasource_uid,
            "The top three causes of each explained slice and window (riskstream explain): the part of the rate "
            "change each explains, split into mix (traffic moving) and rate (the segment getting worse), "
            "in percentage points."))
        .with_panel(panels.state_timeline("Circuit breaker states", sql["Circuit breaker states"], datasource_uid,
                                          BREAKER_STATES, "Each slice's breaker over time (event time), from its "
                                          "transitions; slices that never moved are closed and not shown."))
        .with_panel(panels.ranked_table("Circuit breaker transitions", sql["Circuit breaker transitions"],
                                        datasource_uid, "Every move of a per-slice breaker, newest first, with the "
                                        "evidence it was decided on (event time); a row links to what fed the "
                                        "slice's windows before it.")
                    .data_links([trace.link("Trace: what fed it", {
                        "surface": "${__data.fields.surface}", "region": "${__data.fields.region}",
                        "version": "${__data.fields.recommender_model_version}"}, "${__data.fields.at_ms}")]))
        .with_panel(panels.time_series(
            "Shadow policy: unsafe rate in force vs if enforced", sql["Shadow policy: unsafe rate in force vs if enforced"],
            datasource_uid, "percentunit", "Per shadow policy, on the same scored impressions: the unsafe share under the "
            "policies in force and under the shadow. `riskstream policy shadow-report VERSION` lists the slices and "
            "items that would flip."))
    )
