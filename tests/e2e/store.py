"""Test-side ClickHouse reads: rows as dicts, and provisioned alert rules evaluated at given times."""
from __future__ import annotations

import contextlib

from dashboards import render, rule_eval
from riskstream.io import clickhouse


def query(services, sql: str, **parameters) -> list[dict]:
    client = clickhouse.connect(services.clickhouse, database=services.clickhouse.database)
    try:
        result = client.query(sql, parameters=parameters)
        return [dict(zip(result.column_names, row)) for row in result.result_rows]
    finally:
        client.close()


@contextlib.contextmanager
def scratch_database(services, name: str):
    """A client on a database of its own in the stack's ClickHouse, migrated, dropped afterwards."""
    client = clickhouse.connect(services.clickhouse, database=name)
    try:
        clickhouse.migrate(client)
        yield client
    finally:
        client.command(f"DROP DATABASE IF EXISTS {name}")
        client.close()


def evaluate_rule(services, uid: str, *times_ms: int) -> list[list]:
    """The provisioned alert rule `uid`'s instances at each time, as Grafana would evaluate it then."""
    [rule] = [r for r in rule_eval.load(render.ALERT_RULES) if r.uid == uid]
    client = clickhouse.connect(services.clickhouse, database=services.clickhouse.database)
    try:
        return [rule_eval.evaluate(client, rule, at) for at in times_ms]
    finally:
        client.close()
