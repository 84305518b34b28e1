"""Trace: what fed a slice's windows and what followed them, the same queries as `riskstream trace`.

The queries are built here once, from a subquery of safety-health rows and SQL expressions for the slice and
the time span, and used twice: by the Trace dashboard (Grafana template variables) and by `riskstream trace`
(ClickHouse query parameters). The overview's panels link to the dashboard with the slice and the time
clicked (data links), as the CLI's --alert traces the spike rule's last 10 minutes.
"""
from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models.dashboard import DashboardLinkType

from dashboards import panels

UID = "riskstream-trace"
TOP_ITEMS = 10
SPAN_MINUTES = 10  # the spike rule's current window (dashboards/alerts.py): what a link traces by default
DIMENSIONS = {"surface": "surface", "region": "region", "version": "recommender_model_version",
              "category": "item_category"}
# The span's end, epoch ms: the `at` a link sets (the time clicked), else the end of the time range.
AT_MS = "if('${at}' = '', toUnixTimestamp(($__toTime)) * 1000, toInt64OrZero('${at}'))"
START_MS = f"({AT_MS} - toInt64OrZero('${{minutes}}') * 60000)"


def fed_by(rows: str) -> dict[str, str]:
    """What fed the safety-health rows `rows` (a SELECT of whole rows): the offset ranges per job and partition,
    the scored impressions per model version and per policy, the items with the most unsafe impressions, and
    the totals."""
    return {
        "totals": f"SELECT count() AS rows, sum(impressions) AS impressions, sum(unsafe) AS unsafe FROM ({rows})",
        "offsets": f"SELECT job_id, r.partition AS partition, min(r.first_offset) AS first_offset, "
                   f"max(r.last_offset) AS last_offset FROM ({rows}) ARRAY JOIN offset_ranges AS r "
                   f"GROUP BY job_id, partition ORDER BY job_id, partition",
        # Rows written before the per-version map name the version the job read at start.
        "models": f"SELECT concat(model_name, ':', v.1) AS model, sum(v.2) AS scored_impressions FROM ({rows}) "
                  f"ARRAY JOIN if(empty(scored_by_model_version), [(toString(model_version), scored)], "
                  f"arrayZip(CAST(mapKeys(scored_by_model_version), 'Array(String)'), "
                  f"mapValues(scored_by_model_version))) AS v WHERE v.2 > 0 GROUP BY model ORDER BY model",
        "policies": f"SELECT policy_version, sum(scored) AS judged FROM ({rows}) GROUP BY policy_version "
                    f"ORDER BY policy_version",
        "items": f"SELECT i.item_id AS item_id, sum(i.unsafe_impressions) AS unsafe_impressions, "
                 f"max(i.max_score) AS max_score FROM ({rows}) ARRAY JOIN top_unsafe_items AS i "
                 f"GROUP BY item_id ORDER BY unsafe_impressions DESC, item_id LIMIT {TOP_ITEMS}",
    }


def followed(database: str, surface: str, region: str, start_ms: str, end_ms: str) -> dict[str, str]:
    """What followed in the slice (`surface`, `region`: SQL expressions) from `start_ms` (epoch ms, an SQL
    expression) on: its breaker transitions, the causes explain found for windows up to 15 minutes after
    `end_ms` (the newest run's top three), and the audit trail's records naming it."""
    prefix = f"{database}." if database else ""
    since = f"fromUnixTimestamp64Milli({start_ms}, 'UTC')"
    slice_ = f"concat('surface=', {surface}, ',region=', {region})"
    return {
        "breaker_transitions": (
            f"SELECT window_end, surface, region, recommender_model_version, from_state, to_state, rate, "
            f"baseline_rate, z, reason, policy_version, job_id FROM {prefix}breaker_transitions FINAL "
            f"WHERE surface = {surface} AND region = {region} AND window_end >= {since} ORDER BY window_end"),
        "causes": (
            f"SELECT window_end, rank, cause, round(explanatory_power, 3) AS explains, significant, explained_at, "
            f"job_id FROM {prefix}alert_causes FINAL WHERE slice = {slice_} AND window_end > {since} "
            f"AND window_end <= fromUnixTimestamp64Milli({end_ms}, 'UTC') + INTERVAL 15 MINUTE "
            f"AND explained_at = (SELECT max(explained_at) FROM {prefix}alert_causes WHERE slice = {slice_} "
            f"AND window_end > {since}) ORDER BY rank LIMIT 3"),
        "audit": (
            f"SELECT at, kind, subject, action, actor, reason, policy_version FROM {prefix}audit_log FINAL "
            f"WHERE startsWith(subject, concat({surface}, '/', {region})) AND at >= {since} ORDER BY at LIMIT 50"),
    }


def selection(database: str) -> str:
    """The dashboard's rows: one job's 1-minute rows of the slice (an empty dimension: any) in the span."""
    dims = " ".join(f"AND ('${{{var}}}' = '' OR {column} = '${{{var}}}')" for var, column in DIMENSIONS.items())
    return (f"SELECT * FROM {database}.safety_health FINAL WHERE window_seconds = 60 AND job_id = '${{job}}' {dims} "
            f"AND window_start >= fromUnixTimestamp64Milli({START_MS}, 'UTC') "
            f"AND window_start < fromUnixTimestamp64Milli({AT_MS}, 'UTC')")


PANELS = {  # title -> (query, description)
    "Fed by: impressions and unsafe": ("totals", "The 1-minute rows of the slice in the span, their impressions "
                                                 "and unsafe impressions."),
    "Fed by: Kafka offsets": ("offsets", "Per job and partition, the first and last offsets of the impressions "
                                         "that fed the rows (each row's offset_ranges)."),
    "Fed by: safety-model versions": ("models", "Scored impressions per model version that scored them (Triton's "
                                                "responses)."),
    "Fed by: policies": ("policies", "Scored impressions per policy version that judged them."),
    "Fed by: items with the most unsafe impressions": ("items", "From each window's top-10 unsafe items."),
    "Followed: breaker transitions": ("breaker_transitions", "The slice's breaker transitions from the span on "
                                                             "(event time)."),
    "Followed: causes explain found": ("causes", "The newest explain run's top three causes for the slice."),
    "Followed: audit trail": ("audit", "Audit records naming the slice from the span on."),
}


def queries(database: str) -> dict[str, str]:
    found = {**fed_by(selection(database)),
             **followed(database, "'${surface}'", "'${region}'", START_MS, AT_MS)}
    return {title: found[key] for title, (key, _) in PANELS.items()}


def link(title: str, variables: dict[str, str], at: str) -> dashboard.DashboardLink:
    """A data link to the Trace dashboard for the slice `variables` name (Grafana link expressions) at `at`."""
    # ${__url_time_range}: the linking dashboard's range, so the job chosen there is among the job variable's.
    query = "&".join([f"var-job=${{job}}", *(f"var-{name}={value}" for name, value in variables.items()),
                      f"var-at={at}", f"var-minutes={SPAN_MINUTES}", "${__url_time_range}"])
    return dashboard.DashboardLink(title).type(DashboardLinkType.LINK).url(f"/d/{UID}/trace?{query}") \
        .target_blank(False)


def build(datasource_uid: str, database: str = "riskstream") -> dashboard.Dashboard:
    board = panels.riskstream_dashboard("Trace: what fed a slice's windows", UID, ["safety", "trace"], database,
                                        datasource_uid, refresh="", since="now-3h")
    defaults = {"surface": "", "region": "", "version": "", "category": "", "at": "", "minutes": str(SPAN_MINUTES)}
    labels = {"surface": "Surface", "region": "Region", "version": "Recommender model version",
              "category": "Item category", "at": "Until (epoch ms; empty: the range's end)", "minutes": "Minutes"}
    for name, default in defaults.items():
        board = board.with_variable(dashboard.TextBoxVariable(name).label(labels[name]).default_value(default))
    sql = queries(database)
    for title, (_, description) in PANELS.items():
        board = board.with_panel(panels.ranked_table(title, sql[title], datasource_uid, description))
    return board
