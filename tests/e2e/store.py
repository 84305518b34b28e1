"""Test-side ClickHouse reads: rows as dicts."""
from __future__ import annotations

from riskstream.io import clickhouse


def query(services, sql: str, **parameters) -> list[dict]:
    client = clickhouse.connect(services.clickhouse, database=services.clickhouse.database)
    try:
        result = client.query(sql, parameters=parameters)
        return [dict(zip(result.column_names, row)) for row in result.result_rows]
    finally:
        client.close()
