"""Grafana as code: data source, dashboards and provisioning files rendered from Python."""
