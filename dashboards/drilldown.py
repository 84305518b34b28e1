"""Safety health drilldown: one job, narrowed by surface, region and item category, and one
recommender model version compared with the one before it."""
from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dashboards import panels, quantiles

UID = "riskstream-safety-drilldown"

# One job's 1-minute rows of the chosen slices; FILTER: in the time range.
SELECTION = ("window_seconds = 60 AND job_id = '${job}' "
             "AND surface IN (${surface:singlequote}) AND region IN (${region:singlequote}) "
             "AND item_category IN (${category:singlequote})")
FILTER = f"$__timeFilter(window_start) AND {SELECTION}"
# The unsafe-rate spike rule's baseline (dashboards/alerts.py): the 170 minutes before its last 10.
BASELINE_MINUTES = 170
VERSIONS = "recommender_model_version IN ('${model_version}', '${previous_version}')"


def variables(database: str) -> dict[str, tuple[str, str, bool]]:
    """Name -> (label, SQL, multi-value), in the order they depend on each other."""
    health = f"{database}.safety_health"
    in_range = "WHERE $__timeFilter(window_start) AND job_id = '${job}'"
    return {
        "surface": ("Surface", f"SELECT DISTINCT surface FROM {health} {in_range} ORDER BY 1", True),
        "region": ("Region", f"SELECT DISTINCT region FROM {health} {in_range} ORDER BY 1", True),
        "category": ("Item category", f"SELECT DISTINCT item_category FROM {health} {in_range} ORDER BY 1", True),
        # Newest first by when the job first saw each version (names need not sort: v10 after v9, hashes).
        "model_version": ("Recommender model version",
                          f"SELECT recommender_model_version FROM {health} {in_range} "
                          f"GROUP BY recommender_model_version ORDER BY min(first_event_time) DESC", False),
        # The version the job saw first just before the chosen one (over the job's whole history), if any.
        "previous_version": ("Compared with", f"""
SELECT recommender_model_version FROM {health} WHERE job_id = '${{job}}'
GROUP BY recommender_model_version
HAVING min(first_event_time) < (SELECT min(first_event_time) FROM {health}
                                WHERE job_id = '${{job}}' AND recommender_model_version = '${{model_version}}')
ORDER BY min(first_event_time) DESC LIMIT 1""", False),
    }


def queries(database: str) -> dict[str, str]:
    health = f"{database}.safety_health FINAL"
    return {
        "Unsafe rate: version vs the one before": f"""
SELECT $__timeInterval(window_start) AS time, recommender_model_version AS version,
       sum(unsafe) / greatest(sum(scored), 1) AS unsafe_rate
FROM {health}
WHERE {FILTER} AND {VERSIONS}
GROUP BY time, version ORDER BY time""",
        "Unsafe per 1,000 scored by safety category": f"""
SELECT category,
       1000 * sumIf(count, version = '${{model_version}}') / greatest(any(totals.current_scored), 1) AS chosen_version,
       if('${{previous_version}}' = '', NULL,
          1000 * sumIf(count, version = '${{previous_version}}') / greatest(any(totals.previous_scored), 1)) AS previous_version,
       chosen_version - previous_version AS change
FROM (
    SELECT recommender_model_version AS version, category, count
    FROM {health}
    ARRAY JOIN mapKeys(unsafe_by_category) AS category, mapValues(unsafe_by_category) AS count
    WHERE {FILTER} AND {VERSIONS}
) AS per_category
CROSS JOIN (
    SELECT sumIf(scored, recommender_model_version = '${{model_version}}') AS current_scored,
           sumIf(scored, recommender_model_version = '${{previous_version}}') AS previous_scored
    FROM {health}
    WHERE {FILTER}
) AS totals
GROUP BY category ORDER BY change DESC NULLS LAST, chosen_version DESC""",
        # The selection's rate against the 170 minutes before the range, and the spike rule's 1.5x ratio on it.
        "Unsafe rate against its baseline": f"""
SELECT $__timeInterval(window_start) AS time, sum(unsafe) / greatest(sum(scored), 1) AS unsafe_rate,
       any(before.rate) AS baseline_rate, 1.5 * baseline_rate AS spike_threshold
FROM {health}
CROSS JOIN (
    SELECT sum(unsafe) / greatest(sum(scored), 1) AS rate FROM {health}
    WHERE {SELECTION}
      -- Each macro closed by a parenthesis: the plugin takes the next (...) after a macro as its arguments.
      AND window_start >= ($__fromTime - INTERVAL {BASELINE_MINUTES} MINUTE) AND window_start < ($__fromTime)
) AS before
WHERE {FILTER}
GROUP BY time ORDER BY time""",
        "Impressions and coverage": f"""
SELECT $__timeInterval(window_start) AS time, sum(impressions) AS total_impressions, sum(scored) AS total_scored,
       total_scored / greatest(total_impressions, 1) AS coverage
FROM {health}
WHERE {FILTER}
GROUP BY time ORDER BY time""",
        "Exposure-weighted harm by region": f"""
SELECT $__timeInterval(window_start) AS time, region, sum(harm) AS harm
FROM {health}
WHERE {FILTER}
GROUP BY time, region ORDER BY time""",
        "Safety score quantiles in the selection": quantiles.quantiles_over_time_sql(health, FILTER),
        "Top unsafe items in the selection": panels.top_unsafe_items_sql(
            health, FILTER, "groupUniqArray(recommender_model_version) AS versions"),
    }


def build(datasource_uid: str, database: str = "riskstream") -> dashboard.Dashboard:
    sql = queries(database)
    board = panels.riskstream_dashboard("Safety health drilldown", UID, ["safety"], database, datasource_uid)
    for name, (label, query, multi) in variables(database).items():
        board = board.with_variable(panels.variable(name, label, query, datasource_uid, multi=multi))
    described = {
        "Unsafe rate: version vs the one before": (
            panels.time_series, "percentunit", "The chosen recommender version against the one released before it."),
        "Unsafe per 1,000 scored by safety category": (
            panels.ranked_table, None, "Per safety category; change > 0 means the chosen version serves more."),
        "Unsafe rate against its baseline": (
            panels.time_series, "percentunit", f"The selection's unsafe rate, its rate over the {BASELINE_MINUTES} "
            "minutes before the range, and 1.5x that: the spike rule's ratio condition (it also needs 4 standard "
            "errors)."),
        "Impressions and coverage": (panels.time_series, "short", "Volume in the selection and the share Triton scored."),
        "Exposure-weighted harm by region": (
            panels.time_series, "short", "Sum over impressions of the item's highest safety score."),
        "Safety score quantiles in the selection": (
            panels.time_series, "short", "p50/p95/p99 of the selected impressions' highest scores, from the rows' "
                                         "merged score histograms: within 0.5% of the exact quantile."),
        "Top unsafe items in the selection": (
            panels.ranked_table, None, "Items with the most unsafe impressions in the selection."),
    }
    for title, (make, unit, description) in described.items():
        board = board.with_panel(make(title, sql[title], datasource_uid, unit, description) if unit else
                                 make(title, sql[title], datasource_uid, description))
    return board
