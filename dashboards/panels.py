"""Panel defaults shared by every riskstream dashboard, so each dashboard states only what differs."""
from __future__ import annotations

from grafana_foundation_sdk.builders import bargauge, table, timeseries

from dashboards.clickhouse_query import Query, datasource_ref


def time_series(title: str, sql: str, datasource_uid: str, unit: str, description: str) -> timeseries.Panel:
    return (timeseries.Panel().title(title).description(description).unit(unit).height(8).span(12)
            .datasource(datasource_ref(datasource_uid)).with_target(Query(sql, datasource_uid))
            .line_width(2).fill_opacity(10))


def ranked_bars(title: str, sql: str, datasource_uid: str, unit: str, description: str) -> bargauge.Panel:
    return (bargauge.Panel().title(title).description(description).unit(unit).height(8).span(12)
            .datasource(datasource_ref(datasource_uid)).with_target(Query(sql, datasource_uid).table()))


def ranked_table(title: str, sql: str, datasource_uid: str, description: str) -> table.Panel:
    return (table.Panel().title(title).description(description).height(10).span(24)
            .datasource(datasource_ref(datasource_uid)).with_target(Query(sql, datasource_uid).table()))
