"""Expand the ClickHouse plugin's macros and Grafana's template variables for a concrete time range,
as Grafana and the plugin do before querying, so tests (and `riskstream alerts test`) run panel,
variable and alert SQL against ClickHouse directly.

The macros follow grafana-clickhouse-datasource 4.10.1 (`pkg/macros/macros.go`) and the interpolation
of grafana-plugin-sdk-go's `sqlutil` that it runs them with, rule for rule:
- a macro is `$__name` ending at a word boundary (so `$__timeFilter` never matches `$__timeFilter_ms`);
- its arguments run from the first `(` after the name to the matching `)`, unless a `)` comes first
  (then it has none); they are split at every comma and trimmed;
- times are the range's ends truncated to whole seconds (`toDateTime(unix seconds)`) or, for the `_ms`
  forms, whole milliseconds (`fromUnixTimestamp64Milli(ms)`); dates are UTC calendar dates;
- `$__timeInterval` rounds the interval down to whole seconds, at least 1.
Template variables are replaced first, as Grafana's front end does before the query reaches the plugin.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

Value = str | list[str]


@dataclass(frozen=True)
class Range:
    from_ms: int
    to_ms: int
    interval_ms: int

    def _seconds(self, ms: int) -> int:
        return ms // 1000  # Go's Time.Unix(): whole seconds, rounded towards the past

    def _date(self, ms: int) -> str:
        return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%d")

    def _rfc3339(self, ms: int) -> str:
        return dt.datetime.fromtimestamp(self._seconds(ms), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _one(name: str, args: list[str], count: int = 1) -> list[str]:
    if len(args) != count:
        raise ValueError(f"$__{name}: expected {count} argument(s), received {len(args)}")
    return args


def _datetime(seconds: int) -> str:
    return f"toDateTime({seconds})"


def _datetime64(ms: int) -> str:
    return f"fromUnixTimestamp64Milli({ms})"


def _between(column: str, low: str, high: str) -> str:
    return f"{column} >= {low} AND {column} <= {high}"


def _macros(r: Range) -> dict[str, Callable[[list[str]], str]]:
    frm, to = r._seconds(r.from_ms), r._seconds(r.to_ms)
    interval_s = max(r.interval_ms // 1000, 1)

    def date_time_filter(args):
        date_column, time_column = _one("dateTimeFilter", args, 2)
        dates = _between(date_column, f"toDate('{r._date(r.from_ms)}')", f"toDate('{r._date(r.to_ms)}')")
        return f"({dates}) AND ({_between(time_column, _datetime(frm), _datetime(to))})"

    return {
        # the plugin's own
        "fromTime": lambda args: _datetime(frm),
        "toTime": lambda args: _datetime(to),
        "fromTime_ms": lambda args: _datetime64(r.from_ms),
        "toTime_ms": lambda args: _datetime64(r.to_ms),
        "timeFilter": lambda args: _between(_one("timeFilter", args)[0], _datetime(frm), _datetime(to)),
        "timeFilter_ms": lambda args: _between(_one("timeFilter_ms", args)[0], _datetime64(r.from_ms),
                                               _datetime64(r.to_ms)),
        "dateFilter": lambda args: _between(_one("dateFilter", args)[0], f"toDate('{r._date(r.from_ms)}')",
                                            f"toDate('{r._date(r.to_ms)}')"),
        "dateTimeFilter": date_time_filter,
        "dt": date_time_filter,
        "timeInterval": lambda args: f"toStartOfInterval(toDateTime({_one('timeInterval', args)[0]}), "
                                     f"INTERVAL {interval_s} second)",
        "timeInterval_ms": lambda args: f"toStartOfInterval(toDateTime64({_one('timeInterval_ms', args)[0]}, 3), "
                                        f"INTERVAL {max(r.interval_ms, 1)} millisecond)",
        "interval_s": lambda args: str(interval_s),
        # the SDK's defaults, which the plugin does not override
        "timeFrom": lambda args: f"{_one('timeFrom', args)[0]} >= '{r._rfc3339(r.from_ms)}'",
        "timeTo": lambda args: f"{_one('timeTo', args)[0]} <= '{r._rfc3339(r.to_ms)}'",
    }


def _matches(sql: str, name: str) -> list[tuple[str, list[str] | None]]:
    """Each `$__name` in `sql` as (the text it replaces, its arguments or None), found as the SDK finds them."""
    found = []
    for match in re.finditer(rf"\$__{re.escape(name)}\b", sql):
        start, depth, arg_start, end = match.start(), 0, None, None
        for index in range(match.end(), len(sql)):
            char = sql[index]
            if char == "(":
                depth += 1
                if arg_start is None:
                    arg_start = index + 1
            elif char == ")":
                if depth == 0:
                    break
                depth -= 1
                if depth == 0:
                    end = index + 1
                    break
        if end is None:
            found.append((sql[start:match.end()], [""]))  # the SDK passes one empty argument
        else:
            found.append((sql[start:end], [arg.strip() for arg in sql[arg_start:end - 1].split(",")]))
    return found


def _format(value: Value, style: str | None) -> str:
    values = value if isinstance(value, list) else [value]
    if style == "singlequote":
        return ",".join("'" + v.replace("'", "\\'") + "'" for v in values)
    if style is None:
        return ",".join(values)
    raise ValueError(f"variable format {style!r} is not supported here")


def expand(sql: str, from_ms: int, to_ms: int, interval_s: float = 60, variables: dict[str, Value] | None = None) -> str:
    for name, value in (variables or {}).items():
        sql = re.sub(r"\$\{" + name + r"(?::(\w+))?\}", lambda m: _format(value, m.group(1)), sql)
        sql = re.sub(r"\$" + name + r"\b", lambda m: _format(value, None), sql)
    for name, macro in _macros(Range(from_ms, to_ms, int(interval_s * 1000))).items():
        for text, args in _matches(sql, name):
            sql = sql.replace(text, macro(args))
    if "$" in sql:
        raise ValueError(f"unexpanded macro or variable in: {sql}")
    return sql
