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
    doc = yaml.safe_load(render.files()["datasources/riskstream.yaml"])
    assert doc["apiVersion"] == 1
    [source, prometheus] = doc["datasources"]
    assert prometheus["type"] == "prometheus" and prometheus["url"] == "${RISKSTREAM_PROMETHEUS_URL}"
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


def test_drilldown_narrows_by_slice_and_compares_a_version_with_the_previous_one():
    model = json.loads(render.files()["dashboards/riskstream/safety-drilldown.json"])
    variables = {v["name"]: v for v in model["templating"]["list"]}
    assert list(variables) == ["job", "surface", "region", "category", "model_version", "previous_version"]
    assert all(variables[n]["multi"] and variables[n]["includeAll"] for n in ("surface", "region", "category"))
    assert not variables["model_version"]["multi"]
    assert "min(first_event_time) < (" in variables["previous_version"]["query"]["rawSql"]
    for panel in model["panels"]:
        sql = panel["targets"][0]["rawSql"]
        assert "job_id = '${job}'" in sql and "IN (${surface:singlequote})" in sql, panel["title"]


def test_pipeline_health_reads_the_job_from_clickhouse_and_triton_from_prometheus():
    model = json.loads(render.files()["dashboards/riskstream/pipeline-health.json"])
    sources = {panel["title"]: panel["datasource"]["uid"] for panel in model["panels"]}
    triton = {t for t, uid in sources.items() if uid == provisioning.PROMETHEUS_UID}
    assert triton == {"Triton latency per request (ms)", "Triton queue time per request (ms)",
                      "Triton failed requests per second"}
    assert {"Unscored rate", "Dead letters by error class", "End-to-end delay: window end to row written",
            "Events per interval: counted, late, dead-lettered", "Rows written per window interval"} == set(sources) - triton


def test_every_dashboard_marks_policy_and_model_version_changes_and_control_plane_actions():
    for relative, content in render.files().items():
        if relative.endswith(".json"):
            names = [a["name"] for a in json.loads(content)["annotations"]["list"]]
            assert names == ["Policy versions", "Safety model versions", "Control-plane changes"], relative


def test_data_links_to_the_trace_dashboard_set_only_its_variables_and_name_fields_the_panel_has():
    """Every link into the Trace dashboard sets variables it has, and the fields or labels it reads come from
    the linking panel's query (a typo would open the trace of nothing)."""
    import re

    from dashboards import trace

    boards = {name: json.loads(content) for name, content in render.files().items() if name.endswith(".json")}
    [trace_board] = [b for b in boards.values() if b["uid"] == trace.UID]
    trace_variables = {v["name"] for v in trace_board["templating"]["list"]}
    links = [(panel, link) for board in boards.values() for panel in board["panels"]
             for link in panel.get("fieldConfig", {}).get("defaults", {}).get("links", [])]
    assert {panel["title"] for panel, _ in links} == {"Unsafe rate by surface", "Circuit breaker transitions"}
    for panel, link in links:
        path, _, query = link["url"].partition("?")
        assert path == f"/d/{trace.UID}/trace"
        names = [part.split("=", 1)[0] for part in query.split("&") if part.startswith("var-")]
        assert {name.removeprefix("var-") for name in names} <= trace_variables and "var-at" in names
        sql = panel["targets"][0]["rawSql"]
        for field in re.findall(r"\$\{__(?:data\.fields|field\.labels)\.(\w+)\}", link["url"]):
            assert re.search(rf"\b{field}\b", sql), (panel["title"], field)


def test_the_kubernetes_configmaps_hold_the_same_provisioning_files():
    assert render.K8S_CONFIGMAPS.read_text() == render.configmaps(render.files(provisioning.KUBERNETES)), \
        "k8s/base/grafana-provisioning.yaml is stale: run `riskstream grafana render`"
    held = {key for doc in yaml.safe_load_all(render.K8S_CONFIGMAPS.read_text()) if doc for key in doc["data"]}
    assert held == {relative.rsplit("/", 1)[-1] for relative in render.files()}
