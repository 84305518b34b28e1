"""Render every provisioning file into `dashboards/provisioning/`; a test fails when they are stale.

    .venv/bin/riskstream grafana render
"""
from __future__ import annotations

import json
from pathlib import Path

import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from dashboards import (alerts, drilldown, harm_by_cohort, model_bias, notifications, pipeline_health, provisioning,
                        safety_overview, trace)

OUTPUT = Path(__file__).resolve().parent / "provisioning"
DASHBOARD_PATH_IN_GRAFANA = "/etc/grafana/provisioning/dashboards/riskstream"
ALERT_RULES = OUTPUT / "alerting" / "riskstream-rules.yaml"


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (alert SQL) as literal blocks, so the files read like the SQL they hold."""


_Dumper.add_representer(str, lambda dumper, text: dumper.represent_scalar(
    "tag:yaml.org,2002:str", text, style="|" if "\n" in text else None))


def _yaml(document: dict) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=120)


def files(env: provisioning.Environment = provisioning.Environment()) -> dict[str, str]:
    """Relative path -> file content, for every provisioning file."""
    boards = {
        "safety-overview": safety_overview.build(provisioning.DATASOURCE_UID, env.database),
        "safety-drilldown": drilldown.build(provisioning.DATASOURCE_UID, env.database),
        "pipeline-health": pipeline_health.build(provisioning.DATASOURCE_UID, provisioning.PROMETHEUS_UID, env.database),
        "harm-by-cohort": harm_by_cohort.build(provisioning.DATASOURCE_UID, env.database),
        "model-bias": model_bias.build(provisioning.DATASOURCE_UID, env.database),
        "trace": trace.build(provisioning.DATASOURCE_UID, env.database),
    }
    return {
        "datasources/riskstream.yaml": _yaml(provisioning.datasource(env)),
        "dashboards/riskstream.yaml": _yaml(provisioning.dashboard_provider(env, DASHBOARD_PATH_IN_GRAFANA)),
        "alerting/riskstream-rules.yaml": _yaml(alerts.rule_groups(provisioning.DATASOURCE_UID, env.database,
                                                                   env.runbook_base_url)),
        "alerting/riskstream-contact-points.yaml": _yaml(notifications.contact_points()),
        "alerting/riskstream-policies.yaml": _yaml(notifications.policies()),
        **{f"dashboards/riskstream/{name}.json": json.dumps(board.build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"
           for name, board in boards.items()},
    }


def render(output: Path = OUTPUT) -> list[Path]:
    written = []
    for relative, content in files().items():
        path = output / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        written.append(path)
    return written
