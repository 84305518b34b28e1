"""Queries for the grafana-clickhouse-datasource plugin (v4), as a foundation-SDK data query.

The SDK ships builders for Grafana's core data sources only; this adds the ClickHouse plugin's
query model (raw SQL in the SQL editor) so panels are built with the same typed builders.
"""
from __future__ import annotations

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard

PLUGIN_ID = "grafana-clickhouse-datasource"
PLUGIN_VERSION = "4.10.1"
# The plugin's Format enum: how a result is turned into data frames.
FORMAT_TIME_SERIES = 0
FORMAT_TABLE = 1


class ClickHouseQuery(cogvariants.Dataquery):
    def __init__(self, raw_sql: str, ref_id: str, time_series: bool, datasource_uid: str):
        self.raw_sql = raw_sql
        self.ref_id = ref_id
        self.time_series = time_series
        self.datasource_uid = datasource_uid

    def to_json(self) -> dict[str, object]:
        return {
            "refId": self.ref_id,
            "datasource": {"type": PLUGIN_ID, "uid": self.datasource_uid},
            "editorType": "sql",
            "queryType": "timeseries" if self.time_series else "table",
            "format": FORMAT_TIME_SERIES if self.time_series else FORMAT_TABLE,
            "pluginVersion": PLUGIN_VERSION,
            "rawSql": self.raw_sql,
        }


class Query(cogbuilder.Builder[ClickHouseQuery]):
    """`Query(sql, datasource_uid)`; `.table()` for table-shaped results."""

    def __init__(self, raw_sql: str, datasource_uid: str, ref_id: str = "A"):
        self._internal = ClickHouseQuery(raw_sql, ref_id, True, datasource_uid)

    def table(self) -> "Query":
        self._internal.time_series = False
        return self

    def build(self) -> ClickHouseQuery:
        return self._internal


def datasource_ref(uid: str) -> dashboard.DataSourceRef:
    return dashboard.DataSourceRef(type_val=PLUGIN_ID, uid=uid)
