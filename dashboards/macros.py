"""Expand the ClickHouse plugin's macros and Grafana's template variables for a concrete time range,
as Grafana and the plugin do before querying, so tests (and `riskstream alerts test`) run panel,
variable and alert SQL against ClickHouse directly."""
from __future__ import annotations

import re

Value = str | list[str]


def _format(value: Value, style: str | None) -> str:
    values = value if isinstance(value, list) else [value]
    if style == "singlequote":
        return ",".join("'" + v.replace("'", "\\'") + "'" for v in values)
    if style is None:
        return ",".join(values)
    raise ValueError(f"variable format {style!r} is not supported here")


def expand(sql: str, from_ms: int, to_ms: int, interval_s: int = 60, variables: dict[str, Value] | None = None) -> str:
    frm, to = from_ms / 1000, to_ms / 1000
    sql = re.sub(r"\$__timeFilter\(([^)]+)\)",
                 lambda m: f"{m.group(1)} >= toDateTime64({frm}, 3) AND {m.group(1)} <= toDateTime64({to}, 3)", sql)
    sql = re.sub(r"\$__timeInterval\(([^)]+)\)",
                 lambda m: f"toStartOfInterval(toDateTime({m.group(1)}), INTERVAL {interval_s} second)", sql)
    sql = sql.replace("$__fromTime", f"toDateTime({int(frm)})").replace("$__toTime", f"toDateTime({int(to)})")
    for name, value in (variables or {}).items():
        sql = re.sub(r"\$\{" + name + r"(?::(\w+))?\}", lambda m: _format(value, m.group(1)), sql)
        sql = re.sub(r"\$" + name + r"\b", lambda m: _format(value, None), sql)
    if "$" in sql:
        raise ValueError(f"unexpanded macro or variable in: {sql}")
    return sql
