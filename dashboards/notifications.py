"""Where alerts go: contact points and the notification policy tree (Grafana file provisioning, apiVersion 1).

Addresses and keys come from Grafana's environment (`$VAR` in provisioning files), never from this repo:
    RISKSTREAM_ALERT_WEBHOOK_URL     every alert, for the incident tooling
    RISKSTREAM_ALERT_EMAIL           warnings (comma-separated addresses)
    RISKSTREAM_PAGERDUTY_KEY         critical alerts page the on-call engineer (Events API v2 key)
    RISKSTREAM_SLACK_WEBHOOK_URL     the trust & safety team's channel
"""
from __future__ import annotations

import re

CONTACT_POINTS = {
    "riskstream-webhook": {"type": "webhook", "settings": {"url": "${RISKSTREAM_ALERT_WEBHOOK_URL}",
                                                           "httpMethod": "POST"}},
    "riskstream-email": {"type": "email", "settings": {"addresses": "${RISKSTREAM_ALERT_EMAIL}",
                                                       "singleEmail": True}},
    "riskstream-pagerduty": {"type": "pagerduty", "settings": {"integrationKey": "${RISKSTREAM_PAGERDUTY_KEY}",
                                                               "severity": "critical", "class": "riskstream"}},
    "trust-safety-slack": {"type": "slack", "settings": {"url": "${RISKSTREAM_SLACK_WEBHOOK_URL}",
                                                         "title": "{{ .CommonLabels.alertname }}"}},
}


def contact_points() -> dict:
    return {
        "apiVersion": 1,
        "contactPoints": [{
            "orgId": 1,
            "name": name,
            "receivers": [{"uid": name, "type": point["type"], "settings": point["settings"],
                           "disableResolveMessage": False}],
        } for name, point in CONTACT_POINTS.items()],
    }


def policies() -> dict:
    """Everything reaches the webhook; then by severity (critical pages, warnings mail) and by team
    (trust & safety also hear about their alerts in Slack). `continue` lets one alert match several routes."""
    def route(receiver: str, *matchers: tuple[str, str, str], keep_going: bool = True, **timing) -> dict:
        return {"receiver": receiver, "object_matchers": [list(m) for m in matchers], "continue": keep_going, **timing}

    return {
        "apiVersion": 1,
        "policies": [{
            "orgId": 1,
            "receiver": "riskstream-webhook",
            "group_by": ["grafana_folder", "alertname", "surface"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [
                route("riskstream-webhook", ("severity", "=~", ".+")),
                route("riskstream-pagerduty", ("severity", "=", "critical"), repeat_interval="1h"),
                route("riskstream-email", ("severity", "=", "warning")),
                route("trust-safety-slack", ("team", "=", "trust-safety"), keep_going=False),
            ],
        }],
    }


def _matches(matcher: list[str], labels: dict[str, str]) -> bool:
    name, operator, value = matcher
    actual = labels.get(name, "")
    return {"=": actual == value, "!=": actual != value,
            "=~": re.fullmatch(value, actual) is not None, "!~": re.fullmatch(value, actual) is None}[operator]


def receivers_for(labels: dict[str, str], tree: dict | None = None) -> list[str]:
    """Who an alert with these labels notifies, walking the policy tree as Alertmanager does: the
    first matching child is entered, later siblings only while `continue` is set; a node none of
    whose children matched notifies its own receiver."""
    node = tree or policies()["policies"][0]
    chosen: list[str] = []
    for child in node.get("routes", []):
        if all(_matches(m, labels) for m in child.get("object_matchers", [])):
            chosen += receivers_for(labels, {**child, "receiver": child.get("receiver", node["receiver"])})
            if not child.get("continue", False):
                break
    return chosen or [node["receiver"]]
