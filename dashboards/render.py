"""Render every provisioning file into `dashboards/provisioning/`; a test fails when they are stale.

    .venv/bin/riskstream grafana render
"""
from __future__ import annotations

import json
from pathlib import Path

import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from dashboards import provisioning, safety_overview

OUTPUT = Path(__file__).resolve().parent / "provisioning"
DASHBOARD_PATH_IN_GRAFANA = "/etc/grafana/provisioning/dashboards/riskstream"


def files(env: provisioning.Environment = provisioning.Environment()) -> dict[str, str]:
    """Relative path -> file content, for every provisioning file."""
    overview = safety_overview.build(provisioning.DATASOURCE_UID, env.database).build()
    return {
        "datasources/riskstream-clickhouse.yaml": yaml.safe_dump(provisioning.datasource(env), sort_keys=False),
        "dashboards/riskstream.yaml": yaml.safe_dump(
            provisioning.dashboard_provider(env, DASHBOARD_PATH_IN_GRAFANA), sort_keys=False),
        "dashboards/riskstream/safety-overview.json": json.dumps(overview, cls=JSONEncoder, indent=2, sort_keys=True) + "\n",
    }


def render(output: Path = OUTPUT) -> list[Path]:
    written = []
    for relative, content in files().items():
        path = output / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        written.append(path)
    return written
