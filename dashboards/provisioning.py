"""Grafana file provisioning (apiVersion 1): the ClickHouse data source and the dashboard provider."""
from __future__ import annotations

from dataclasses import dataclass

from dashboards.clickhouse_query import PLUGIN_ID

DATASOURCE_UID = "riskstream-clickhouse"
PROMETHEUS_UID = "riskstream-prometheus"


@dataclass(frozen=True)
class Environment:
    """One deployment of the dashboards: its Grafana folder and the ClickHouse it reads."""

    name: str = "local"
    clickhouse_host: str = "${RISKSTREAM_CLICKHOUSE_HOST}"
    clickhouse_port: int = 8123
    clickhouse_protocol: str = "http"  # the plugin's transport: http or native
    clickhouse_secure: bool = False  # TLS on that transport (HTTPS)
    database: str = "riskstream"
    username: str = "${RISKSTREAM_CLICKHOUSE_USER}"
    runbook_base_url: str = "${RISKSTREAM_RUNBOOK_BASE_URL}"  # where this repository is browsable
    prometheus_url: str = "${RISKSTREAM_PROMETHEUS_URL}"  # the Prometheus that scrapes Triton's metrics
    clickhouse_ca_pem: str = ""  # the PEM of the CA that signed ClickHouse's certificate; "": the system's CAs


# Grafana on Kubernetes (k8s/base/grafana.yaml) reads ClickHouse over HTTPS, checking its certificate against
# the CA of the Secret riskstream-clickhouse-tls, which its Deployment passes in the environment.
KUBERNETES = Environment(clickhouse_port=8443, clickhouse_secure=True,
                         clickhouse_ca_pem="${RISKSTREAM_CLICKHOUSE_CA_PEM}")


def datasource(env: Environment) -> dict:
    """grafana-clickhouse-datasource v4 settings (the password comes from the environment, never the
    file) and the Prometheus that scrapes Triton's metrics."""
    tls = {"tlsAuthWithCACert": True} if env.clickhouse_ca_pem else {}
    ca = {"tlsCACert": env.clickhouse_ca_pem} if env.clickhouse_ca_pem else {}
    return {
        "apiVersion": 1,
        "datasources": [{
            "name": "riskstream ClickHouse",
            "uid": DATASOURCE_UID,
            "type": PLUGIN_ID,
            "access": "proxy",
            "editable": False,
            "jsonData": {
                "host": env.clickhouse_host,
                "port": env.clickhouse_port,
                "protocol": env.clickhouse_protocol,
                "secure": env.clickhouse_secure,
                "defaultDatabase": env.database,
                "username": env.username,
                **tls,
            },
            "secureJsonData": {"password": "${RISKSTREAM_CLICKHOUSE_PASSWORD}", **ca},
        }, {
            "name": "riskstream Prometheus",
            "uid": PROMETHEUS_UID,
            "type": "prometheus",
            "access": "proxy",
            "url": env.prometheus_url,
            "editable": False,
            "jsonData": {"httpMethod": "POST", "timeInterval": "15s"},
        }],
    }


def folder_title(env: Environment) -> str:
    return f"riskstream ({env.name})"


def dashboard_provider(env: Environment, path: str) -> dict:
    """A file provider that loads the rendered dashboard JSON into a folder per environment."""
    return {
        "apiVersion": 1,
        "providers": [{
            "name": f"riskstream-{env.name}",
            "folder": folder_title(env),
            "type": "file",
            "disableDeletion": True,
            "allowUiUpdates": False,
            "updateIntervalSeconds": 60,
            "options": {"path": path, "foldersFromFilesStructure": False},
        }],
    }
