"""`riskstream grafana deploy` against a server that checks Grafana's documented HTTP API."""
import pytest
from grafana_client import GrafanaApi

from dashboards import alerts, deploy
from riskstream.cli import main as cli
from riskstream.core.errors import ConfigError
from tests.grafana_api import FakeGrafana

ENVIRON = {"RISKSTREAM_CLICKHOUSE_HOST": "clickhouse.internal", "RISKSTREAM_CLICKHOUSE_USER": "grafana",
           "RISKSTREAM_CLICKHOUSE_PASSWORD": "s3cret-password", "RISKSTREAM_RUNBOOK_BASE_URL": "https://docs.example",
           "RISKSTREAM_ALERT_WEBHOOK_URL": "https://hooks.example/riskstream", "RISKSTREAM_ALERT_EMAIL": "oncall@example.com",
           "RISKSTREAM_PAGERDUTY_KEY": "pd-key-123", "RISKSTREAM_SLACK_WEBHOOK_URL": "https://slack.example/T0/B0/x",
           "RISKSTREAM_PROMETHEUS_URL": "http://prometheus.internal:9090"}


@pytest.fixture
def grafana():
    with FakeGrafana("test-token") as server:
        yield server


def _deploy(grafana, dry_run=False, token="test-token"):
    lines = []
    changes = deploy.deploy(GrafanaApi.from_url(grafana.url, credential=token), dry_run=dry_run,
                            out=lines.append, environ=ENVIRON)
    return changes, "\n".join(lines)


def test_a_first_deploy_creates_everything_through_the_documented_api(grafana):
    changes, _ = _deploy(grafana)
    state = grafana.state
    assert state.violations == []
    # Grafana always has a policy tree (its default); everything else is new.
    assert {(c.kind, c.action) for c in changes if c.action != "create"} == {("notification policy", "update")}
    assert set(state.folders) == {"riskstream-local", deploy.ALERT_FOLDER_UID}
    assert state.datasources["riskstream-clickhouse"]["secureJsonData"] == {"password": "s3cret-password"}
    assert state.datasources["riskstream-clickhouse"]["jsonData"]["host"] == "clickhouse.internal"
    assert state.datasources["riskstream-prometheus"]["url"] == "http://prometheus.internal:9090"
    assert set(state.dashboards) == {"riskstream-safety-overview", "riskstream-safety-drilldown",
                                     "riskstream-pipeline-health", "riskstream-harm-by-cohort",
                                     "riskstream-model-bias", "riskstream-trace"}
    assert {d["meta"]["folderUid"] for d in state.dashboards.values()} == {"riskstream-local"}
    assert {r["uid"] for r in state.rules.values()} == {r.uid for r in alerts.rules()}
    assert all(r["folderUID"] == deploy.ALERT_FOLDER_UID for r in state.rules.values())
    assert state.contact_points["riskstream-pagerduty"]["settings"]["integrationKey"] == "pd-key-123"
    assert state.policies["receiver"] == "riskstream-webhook"


def test_a_second_deploy_writes_nothing(grafana):
    _deploy(grafana)
    written = len(grafana.state.writes)
    changes, output = _deploy(grafana)
    assert {c.action for c in changes} == {"unchanged"}
    assert len(grafana.state.writes) == written
    assert output.endswith(f"0 change(s) made, {len(changes)} unchanged")


def test_dry_run_prints_the_diff_writes_nothing_and_never_shows_a_secret(grafana):
    _deploy(grafana)
    grafana.state.rules["riskstream-coverage-drop"]["for"] = "10m"  # someone edited it in Grafana
    changes, output = _deploy(grafana, dry_run=True)
    writes = len(grafana.state.writes)
    assert [(c.kind, c.name) for c in changes if c.action == "update"] == [("alert rule", "riskstream-coverage-drop")]
    assert '-  "for": "10m",' in output and '+  "for": "3m",' in output
    assert len(grafana.state.writes) == writes
    with FakeGrafana("test-token") as empty:
        _, fresh = _deploy(empty, dry_run=True)
    assert "create    datasource riskstream-clickhouse" in fresh
    for secret in ("s3cret-password", "pd-key-123", "https://slack.example/T0/B0/x"):
        assert secret not in fresh


def test_deploy_puts_back_only_what_drifted(grafana):
    _deploy(grafana)
    grafana.state.rules["riskstream-coverage-drop"]["for"] = "10m"
    grafana.state.datasources["riskstream-prometheus"]["url"] = "http://old-prometheus:9090"
    before = len(grafana.state.requests)
    _deploy(grafana)
    writes = [r for r in grafana.state.requests[before:] if r[0] != "GET"]
    assert writes == [("PUT", "/api/datasources/uid/riskstream-prometheus"),
                      ("PUT", "/api/v1/provisioning/alert-rules/riskstream-coverage-drop")]
    assert grafana.state.rules["riskstream-coverage-drop"]["for"] == "3m"
    assert grafana.state.datasources["riskstream-prometheus"]["url"] == "http://prometheus.internal:9090"
    assert grafana.state.violations == []


def test_a_variable_missing_from_the_environment_is_named(grafana):
    with pytest.raises(ConfigError, match="RISKSTREAM_PAGERDUTY_KEY"):
        deploy.deploy(GrafanaApi.from_url(grafana.url, credential="test-token"), dry_run=True, out=lambda _: None,
                      environ={k: v for k, v in ENVIRON.items() if k != "RISKSTREAM_PAGERDUTY_KEY"})


def test_the_command_names_the_grafana_it_could_not_use(grafana, monkeypatch, capsys):
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["grafana", "deploy", "--url", grafana.url, "--token", "wrong"]) == 2
    assert f"Grafana at {grafana.url}" in capsys.readouterr().err
    assert cli.main(["grafana", "deploy", "--url", "http://127.0.0.1:9", "--token", "t"]) == 2
    assert "Grafana at http://127.0.0.1:9" in capsys.readouterr().err
