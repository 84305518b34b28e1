"""Expand the ClickHouse plugin's macros for a concrete time range, as the plugin does before querying,
so tests (and `riskstream alerts test`) run panel and alert SQL against ClickHouse directly."""
from __future__ import annotations

import re


def expand(sql: str, from_ms: int, to_ms: int, interval_s: int = 60, variables: dict[str, str] | None = None) -> str:
    frm, to = from_ms / 1000, to_ms / 1000
    sql = re.sub(r"\$__timeFilter\(([^)]+)\)",
                 lambda m: f"{m.group(1)} >= toDateTime64({frm}, 3) AND {m.group(1)} <= toDateTime64({to}, 3)", sql)
    sql = re.sub(r"\$__timeInterval\(([^)]+)\)",
                 lambda m: f"toStartOfInterval(toDateTime({m.group(1)}), INTERVAL {interval_s} second)", sql)
    sql = sql.replace("$__fromTime", f"toDateTime({int(frm)})").replace("$__toTime", f"toDateTime({int(to)})")
    for name, value in (variables or {}).items():
        sql = sql.replace(f"${{{name}}}", value).replace(f"${name}", value)
    if "$" in sql:
        raise ValueError(f"unexpanded macro or variable in: {sql}")
    return sql
