# Grafana with the ClickHouse data source plugin the dashboards' queries and macros were checked against
# (dashboards/clickhouse_query.PLUGIN_VERSION), installed at build time so the pod needs no plugin download.
# The Grafana version is the one of the foundation SDK that builds the dashboards (pyproject.toml).
FROM grafana/grafana:11.6.0
RUN grafana cli plugins install grafana-clickhouse-datasource 4.10.1
USER 472
