"""Safety health drilldown: one job, narrowed by surface, region and item category, and one
recommender model version compared with the one before it."""
from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dashboards import panels, quantiles

UID = "riskstream-safety-drilldown"

# One job's 1-minute rows in the time range and the chosen slices.
FILTER = ("$__timeFilter(window_start) AND window_seconds = 60 AND job_id = '${job}' "
          "AND surface IN (${surface:singlequote}) AND region IN (${region:singlequote}) "
          "AND item_category IN (${category:singlequote})")
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
    titles = list(sql)
    board = (
        board
        .with_panel(panels.time_series(titles[0], sql[titles[0]], datasource_uid, "percentunit",
                                       "The chosen recommender version against the one released before it."))
        .with_panel(panels.ranked_table(titles[1], sql[titles[1]], datasource_uid,
                                        "Per safety category; change > 0 means the chosen version serves more."))
        .with_panel(panels.time_series(titles[2], sql[titles[2]], datasource_uid, "short",
                                       "Volume in the selection and the share Triton scored."))
        .with_panel(panels.time_series(titles[3], sql[titles[3]], datasource_uid, "short",
                                       "Sum over impressions of the item's highest safety score."))
        .with_panel(panels.time_series(titles[4], sql[titles[4]], datasource_uid, "short",
                                       "p50/p95/p99 of the selected impressions' highest scores, from the rows' "
                                       "merged score histograms: within 0.5% of the exact quantile."))
        .with_panel(panels.ranked_table(titles[5], sql[titles[5]], datasource_uid,
                                        "Items with the most unsafe impressions in the selection."))
    )
    return board
