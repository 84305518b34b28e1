"""Panel defaults shared by every riskstream dashboard, so each dashboard states only what differs."""
from __future__ import annotations

from grafana_foundation_sdk.builders import bargauge, dashboard, statetimeline, table, timeseries
from grafana_foundation_sdk.models.dashboard import ValueMap, ValueMappingResult, VariableRefresh, VariableSort

from dashboards.clickhouse_query import Query, datasource_ref


def time_series(title: str, sql: str, datasource_uid: str, unit: str, description: str) -> timeseries.Panel:
    return (timeseries.Panel().title(title).description(description).unit(unit).height(8).span(12)
            .datasource(datasource_ref(datasource_uid)).with_target(Query(sql, datasource_uid))
            .line_width(2).fill_opacity(10))


def state_timeline(title: str, sql: str, datasource_uid: str, states: dict[int, tuple[str, str]],
                   description: str) -> statetimeline.Panel:
    """One row per series over time, each value shown as its named, coloured state (value -> (text, colour))."""
    mapping = ValueMap({str(value): ValueMappingResult(text=text, color=color, index=index)
                        for index, (value, (text, color)) in enumerate(sorted(states.items()))})
    return (statetimeline.Panel().title(title).description(description).height(8).span(24)
            .datasource(datasource_ref(datasource_uid)).with_target(Query(sql, datasource_uid))
            .mappings([mapping]).merge_values(True))


def ranked_bars(title: str, sql: str, datasource_uid: str, unit: str, description: str) -> bargauge.Panel:
    return (bargauge.Panel().title(title).description(description).unit(unit).height(8).span(12)
            .datasource(datasource_ref(datasource_uid)).with_target(Query(sql, datasource_uid).table()))


def ranked_table(title: str, sql: str, datasource_uid: str, description: str) -> table.Panel:
    return (table.Panel().title(title).description(description).height(10).span(24)
            .datasource(datasource_ref(datasource_uid)).with_target(Query(sql, datasource_uid).table()))


def variable(name: str, label: str, sql: str, datasource_uid: str, multi: bool = False) -> dashboard.QueryVariable:
    """A template variable filled by a ClickHouse query, refreshed with the time range; a multi-value
    one offers All, which Grafana expands to every value (`IN (${name:singlequote})` reads it)."""
    query = Query(sql, datasource_uid).table().build().to_json()
    query.pop("refId")
    return (dashboard.QueryVariable(name).label(label).datasource(datasource_ref(datasource_uid)).query(query)
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED).sort(VariableSort.ALPHABETICAL_ASC)
            .multi(multi).include_all(multi))


def job_variable(database: str, datasource_uid: str) -> dashboard.QueryVariable:
    """Rows are per job: every riskstream dashboard reads one job's (see the README)."""
    return variable("job", "Job", f"SELECT DISTINCT job_id FROM {database}.safety_health "
                                  f"WHERE $__timeFilter(window_start) ORDER BY job_id", datasource_uid)


# Lineage marks: the first event a policy or safety-model version judged in a job's windows.
VERSION_ANNOTATIONS = {
    "Policy versions": ("policy_version", "concat('policy ', policy_version)", "orange"),
    # Each version that scored impressions (rows from before the per-version map name the job's at start).
    "Safety model versions": ("model_name, scored_by",
                              "concat('model ', model_name, ' v', arrayJoin(if(empty(scored_by_model_version), "
                              "[toString(model_version)], CAST(mapKeys(scored_by_model_version), 'Array(String)'))) "
                              "AS scored_by)", "purple"),
}


def version_annotation_sql(database: str, group_by: str, text: str) -> str:
    return (f"SELECT min(first_event_time) AS time, {text} AS text FROM {database}.safety_health FINAL "
            f"WHERE $__timeFilter(window_start) AND job_id = '${{job}}' GROUP BY {group_by} ORDER BY time")


def version_annotations(database: str, datasource_uid: str) -> list[dashboard.AnnotationQuery]:
    return [dashboard.AnnotationQuery().name(name).enable(True).icon_color(color)
            .datasource(datasource_ref(datasource_uid))
            .target(Query(version_annotation_sql(database, group_by, text), datasource_uid).table())
            for name, (group_by, text, color) in VERSION_ANNOTATIONS.items()]


def top_unsafe_items_sql(source: str, where: str, also: str) -> str:
    """The items with the most unsafe impressions, from each window's bounded top-10 list; `also`
    is one more aggregate column (where the items were seen)."""
    return f"""
SELECT item.item_id AS item_id, sum(item.unsafe_impressions) AS unsafe_impressions,
       max(item.max_score) AS max_score, {also}
FROM {source}
ARRAY JOIN top_unsafe_items AS item
WHERE {where}
GROUP BY item_id ORDER BY unsafe_impressions DESC, max_score DESC LIMIT 20"""


def control_plane_annotation(database: str, datasource_uid: str) -> dashboard.AnnotationQuery:
    """Policy publications, rollbacks and ignored policy records (any job), and the job's manual breaker
    overrides, from the audit trail: who, what and why, at the moment it took effect."""
    sql = (f"SELECT at AS time, concat(kind, ' ', subject, ' (', action, ') by ', actor, ': ', reason) AS text "
           f"FROM {database}.audit_log FINAL WHERE $__timeFilter(at) AND (kind LIKE 'policy_%' OR "
           f"(kind = 'breaker_override' AND job_id = '${{job}}')) ORDER BY time")
    return (dashboard.AnnotationQuery().name("Control-plane changes").enable(True).icon_color("red")
            .datasource(datasource_ref(datasource_uid)).target(Query(sql, datasource_uid).table()))


def riskstream_dashboard(title: str, uid: str, tags: list[str], database: str, datasource_uid: str,
                         refresh: str = "1m", since: str = "now-6h") -> dashboard.Dashboard:
    """What every riskstream dashboard starts with: UTC, the job variable, version and control-plane
    annotations."""
    board = (dashboard.Dashboard(title).uid(uid).tags(["riskstream", *tags]).refresh(refresh)
             .time(since, "now").timezone("utc").with_variable(job_variable(database, datasource_uid)))
    for annotation in [*version_annotations(database, datasource_uid),
                       control_plane_annotation(database, datasource_uid)]:
        board = board.annotation(annotation)
    return board
