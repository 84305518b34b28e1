"""Provisioning files are rendered from code, checked in, and shaped as Grafana expects."""
import json

import yaml

from dashboards import clickhouse_query, provisioning, render, safety_overview


def test_checked_in_provisioning_files_are_up_to_date():
    for relative, content in render.files().items():
        path = render.OUTPUT / relative
        assert path.exists(), f"{relative} is missing: run `riskstream grafana render`"
        assert path.read_text() == content, f"{relative} is stale: run `riskstream grafana render`"


def test_datasource_provisioning_uses_plugin_v4_settings_and_keeps_the_password_out():
    doc = yaml.safe_load(render.files()["datasources/riskstream-clickhouse.yaml"])
    assert doc["apiVersion"] == 1
    [source] = doc["datasources"]
    assert source["type"] == "grafana-clickhouse-datasource" and source["uid"] == provisioning.DATASOURCE_UID
    assert {"host", "port", "protocol", "defaultDatabase"} <= set(source["jsonData"])
    assert source["secureJsonData"] == {"password": "${RISKSTREAM_CLICKHOUSE_PASSWORD}"}


def test_dashboard_provider_points_at_the_rendered_folder_per_environment():
    doc = yaml.safe_load(render.files()["dashboards/riskstream.yaml"])
    [provider] = doc["providers"]
    assert doc["apiVersion"] == 1 and provider["type"] == "file"
    assert provider["folder"] == "riskstream (local)"
    assert provider["options"]["path"] == render.DASHBOARD_PATH_IN_GRAFANA


def test_overview_panels_query_the_clickhouse_plugin_with_sql():
    model = json.loads(render.files()["dashboards/riskstream/safety-overview.json"])
    assert model["uid"] == safety_overview.UID and model["title"] == "Safety health overview"
    titles = [panel["title"] for panel in model["panels"]]
    assert titles == list(safety_overview.queries("riskstream"))
    for panel in model["panels"]:
        assert panel["datasource"] == {"type": clickhouse_query.PLUGIN_ID, "uid": provisioning.DATASOURCE_UID}
        [target] = panel["targets"]
        assert target["editorType"] == "sql" and target["rawSql"].strip().startswith("SELECT")
        assert target["refId"] == "A"
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"])
