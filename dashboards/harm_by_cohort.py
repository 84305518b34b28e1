"""Who bears the harm: unsafe rate and exposure-weighted harm per viewer cohort and per creator cohort.

Each safety_health row keeps, per cohort of its impressions, scored and unsafe impressions and the harm
(the sum of the items' highest scores): `*_by_viewer_cohort` keyed by "age band|locale", and
`*_by_creator_cohort` keyed by the creator cohort the producer sends ("unknown" where an impression names
none). Sums over rows are exact, so any time range and selection is the cohorts' own rate.
"""
from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dashboards import panels

UID = "riskstream-harm-by-cohort"
FILTER = "$__timeFilter(window_start) AND window_seconds = 60 AND job_id = '${job}'"
COHORTS = {"viewer": "viewer_cohort", "creator": "creator_cohort"}


def _over_time(database: str, kind: str, value: str) -> str:
    suffix = COHORTS[kind]
    return f"""
SELECT $__timeInterval(window_start) AS time, cohort, {value}
FROM {database}.safety_health FINAL
ARRAY JOIN mapKeys(scored_by_{suffix}) AS cohort
WHERE {FILTER}
GROUP BY time, cohort ORDER BY time"""


def _against_the_rest(database: str, kind: str) -> str:
    """Each cohort's unsafe rate against everyone else's in the range, with a two-proportion z."""
    suffix = COHORTS[kind]
    return f"""
SELECT cohort, scored, unsafe, round(100 * unsafe / scored, 3) AS unsafe_pct,
       round(100 * (all_unsafe - unsafe) / greatest(all_scored - scored, 1), 3) AS rest_unsafe_pct,
       round((unsafe / scored) / greatest((all_unsafe - unsafe) / greatest(all_scored - scored, 1), 1e-9), 2) AS ratio,
       round(1000 * harm / scored, 2) AS harm_per_1000,
       round((unsafe / scored - (all_unsafe - unsafe) / greatest(all_scored - scored, 1))
             / sqrt(greatest(all_unsafe / all_scored * (1 - all_unsafe / all_scored), 1e-12)
                    * (1 / scored + 1 / greatest(all_scored - scored, 1))), 1) AS z
FROM (
    SELECT cohort, sum(scored_by_{suffix}[cohort]) AS scored, sum(unsafe_by_{suffix}[cohort]) AS unsafe,
           sum(harm_by_{suffix}[cohort]) AS harm
    FROM {database}.safety_health FINAL
    ARRAY JOIN mapKeys(scored_by_{suffix}) AS cohort
    WHERE {FILTER}
    GROUP BY cohort
) AS cohorts
CROSS JOIN (
    SELECT sum(scored) AS all_scored, sum(unsafe) AS all_unsafe
    FROM {database}.safety_health FINAL WHERE {FILTER}
) AS everyone
WHERE scored > 0
ORDER BY ratio DESC"""


def queries(database: str) -> dict[str, str]:
    found = {}
    for kind in COHORTS:
        suffix = COHORTS[kind]
        found[f"Unsafe rate by {kind} cohort"] = _over_time(
            database, kind, f"sum(unsafe_by_{suffix}[cohort]) / greatest(sum(scored_by_{suffix}[cohort]), 1) "
                            f"AS unsafe_rate")
        found[f"Harm per 1,000 scored impressions by {kind} cohort"] = _over_time(
            database, kind, f"1000 * sum(harm_by_{suffix}[cohort]) / greatest(sum(scored_by_{suffix}[cohort]), 1) "
                            f"AS harm_per_1000")
        found[f"{kind.capitalize()} cohorts against the rest"] = _against_the_rest(database, kind)
    return found


def build(datasource_uid: str, database: str = "riskstream") -> dashboard.Dashboard:
    sql = queries(database)
    board = panels.riskstream_dashboard("Who bears the harm", UID, ["safety", "cohorts"], database, datasource_uid)
    for kind in COHORTS:
        who = "viewers (age band|locale)" if kind == "viewer" else "creators (the producer's creator cohort)"
        board = (
            board
            .with_panel(panels.time_series(f"Unsafe rate by {kind} cohort", sql[f"Unsafe rate by {kind} cohort"],
                                           datasource_uid, "percentunit",
                                           f"Share of the scored impressions of each cohort of {who} judged unsafe."))
            .with_panel(panels.time_series(
                f"Harm per 1,000 scored impressions by {kind} cohort",
                sql[f"Harm per 1,000 scored impressions by {kind} cohort"], datasource_uid, "short",
                "Exposure-weighted harm: the sum of the shown items' highest safety scores, per 1,000 impressions."))
            .with_panel(panels.ranked_table(
                f"{kind.capitalize()} cohorts against the rest", sql[f"{kind.capitalize()} cohorts against the rest"],
                datasource_uid, "Each cohort's unsafe rate in the range against everyone else's: the ratio, harm per "
                                "1,000 and a two-proportion z (|z| > 4: unlikely to be chance)."))
        )
    return board
