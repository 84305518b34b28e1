"""Pipeline health: is the safety-health job keeping up, and can its numbers be trusted?

Job-side figures come from what the job wrote to ClickHouse; Triton's own latency and failures come
from its Prometheus metrics (`nv_inference_*` on its metrics port), which the job does not see.
"""
from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard, prometheus, timeseries
from grafana_foundation_sdk.models.dashboard import DataSourceRef

from dashboards import panels

UID = "riskstream-pipeline-health"
PROMETHEUS_TYPE = "prometheus"


def queries(database: str) -> dict[str, str]:
    job = "job_id = '${job}'"
    return {
        "Events per interval: counted, late, dead-lettered": f"""
SELECT time, kind, sum(events) AS events
FROM (
    SELECT $__timeInterval(window_start) AS time, 'counted in windows' AS kind, impressions AS events
    FROM {database}.safety_health FINAL WHERE $__timeFilter(window_start) AND window_seconds = 60 AND {job}
    UNION ALL
    SELECT $__timeInterval(event_time) AS time, 'late' AS kind, toUInt64(1) AS events
    FROM {database}.late_events FINAL WHERE $__timeFilter(event_time) AND {job}
    UNION ALL
    SELECT $__timeInterval(source_timestamp) AS time, 'dead-lettered' AS kind, toUInt64(1) AS events
    FROM {database}.dead_letters FINAL WHERE $__timeFilter(source_timestamp) AND {job}
)
GROUP BY time, kind ORDER BY time""",
        # By the window a row holds (event time), so a backfill shows where its data is, not only now.
        "Rows written per window interval": f"""
SELECT $__timeInterval(window_start) AS time, count() AS rows_written
FROM {database}.safety_health WHERE $__timeFilter(window_start) AND {job}
GROUP BY time ORDER BY time""",
        "Dead letters by error class": f"""
SELECT $__timeInterval(source_timestamp) AS time, error_class, count() AS dead_letters
FROM {database}.dead_letters FINAL WHERE $__timeFilter(source_timestamp) AND {job}
GROUP BY time, error_class ORDER BY time""",
        "Unscored rate": f"""
SELECT $__timeInterval(window_start) AS time, sum(unscored) / greatest(sum(impressions), 1) AS unscored_rate
FROM {database}.safety_health FINAL WHERE $__timeFilter(window_start) AND window_seconds = 60 AND {job}
GROUP BY time ORDER BY time""",
        # Every write of a row (first emission, late updates, replays), not only the last one.
        "End-to-end delay: window end to row written": f"""
SELECT $__timeInterval(window_end) AS time,
       quantile(0.5)(dateDiff('millisecond', window_end, written_at)) / 1000 AS p50_seconds,
       quantile(0.99)(dateDiff('millisecond', window_end, written_at)) / 1000 AS p99_seconds
FROM {database}.safety_health WHERE $__timeFilter(window_end) AND window_seconds = 60 AND {job}
GROUP BY time ORDER BY time""",
    }


TRITON = {
    "Triton latency per request (ms)": (
        'sum(rate(nv_inference_request_duration_us{model="$model"}[$__rate_interval])) / 1000 / '
        'sum(rate(nv_inference_request_success{model="$model"}[$__rate_interval]))', "ms"),
    "Triton queue time per request (ms)": (
        'sum(rate(nv_inference_queue_duration_us{model="$model"}[$__rate_interval])) / 1000 / '
        'sum(rate(nv_inference_request_success{model="$model"}[$__rate_interval]))', "ms"),
    "Triton failed requests per second": (
        'sum(rate(nv_inference_request_failure{model="$model"}[$__rate_interval]))', "reqps"),
}


def _triton_panel(title: str, expr: str, unit: str, prometheus_uid: str) -> timeseries.Panel:
    source = DataSourceRef(type_val=PROMETHEUS_TYPE, uid=prometheus_uid)
    return (timeseries.Panel().title(title).unit(unit).height(8).span(8).datasource(source)
            .description("From Triton's metrics endpoint; the job's own timeouts show as the unscored rate.")
            .with_target(prometheus.Dataquery().expr(expr).legend_format("{{model}}").ref_id("A").datasource(source)))


def build(datasource_uid: str, prometheus_uid: str, database: str = "riskstream",
          model: str = "safety_text") -> dashboard.Dashboard:
    sql = queries(database)
    titles = list(sql)
    board = (
        panels.riskstream_dashboard("Safety-health pipeline", UID, ["pipeline"], database, datasource_uid,
                                    refresh="30s", since="now-3h")
        .with_variable(dashboard.ConstantVariable("model").value(model))
        .with_panel(panels.time_series(titles[0], sql[titles[0]], datasource_uid, "short",
                                       "Every valid impression is counted in a window or as late; bad records are dead-lettered."))
        .with_panel(panels.time_series(titles[1], sql[titles[1]], datasource_uid, "short",
                                       "Result rows inserted into ClickHouse (every write, re-emissions included), "
                                       "by the window they hold: a backfill shows at its event time."))
        .with_panel(panels.time_series(titles[2], sql[titles[2]], datasource_uid, "short",
                                       "Records the job could not decode, by reason; raw bytes are on the dead-letter topic."))
        .with_panel(panels.time_series(titles[3], sql[titles[3]], datasource_uid, "percentunit",
                                       "Impressions Triton could not score (down, timed out, refused); never counted as safe."))
        .with_panel(panels.time_series(titles[4], sql[titles[4]], datasource_uid, "s",
                                       "From the end of a 1-minute window to its row in ClickHouse."))
    )
    for title, (expr, unit) in TRITON.items():
        board = board.with_panel(_triton_panel(title, expr, unit, prometheus_uid))
    return board
