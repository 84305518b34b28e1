"""dashboards/macros.py against the examples grafana-clickhouse-datasource 4.10.1 documents in its own tests
(pkg/macros/macros_test.go): the same input, range and interval give the same SQL."""
from __future__ import annotations

import datetime as dt

import pytest

from dashboards import macros


def _ms(text: str) -> int:
    return int(dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc).timestamp() * 1000)


FROM, TO = _ms("2014-11-12T11:45:26.123Z"), _ms("2015-11-12T11:45:26.456Z")


@pytest.mark.parametrize("sql, expected", [
    ("select * from foo where $__timeFilter(cast(sth as timestamp))",
     "select * from foo where cast(sth as timestamp) >= toDateTime(1415792726) AND cast(sth as timestamp) <= "
     "toDateTime(1447328726)"),
    ("select * from foo where $__timeFilter(cast(sth as timestamp) )",
     "select * from foo where cast(sth as timestamp) >= toDateTime(1415792726) AND cast(sth as timestamp) <= "
     "toDateTime(1447328726)"),
    ("select * from foo where $__timeFilter_ms(cast(sth as timestamp))",
     "select * from foo where cast(sth as timestamp) >= fromUnixTimestamp64Milli(1415792726123) AND "
     "cast(sth as timestamp) <= fromUnixTimestamp64Milli(1447328726456)"),
    ("select * from foo where ( date >= $__fromTime and date <= $__toTime ) limit 100",
     "select * from foo where ( date >= toDateTime(1415792726) and date <= toDateTime(1447328726) ) limit 100"),
    ("select * from foo where ( date >= $__fromTime ) and ( date <= $__toTime ) limit 100",
     "select * from foo where ( date >= toDateTime(1415792726) ) and ( date <= toDateTime(1447328726) ) limit 100"),
    ("select * from foo where ( date >= $__fromTime_ms and date <= $__toTime_ms ) limit 100",
     "select * from foo where ( date >= fromUnixTimestamp64Milli(1415792726123) and date <= "
     "fromUnixTimestamp64Milli(1447328726456) ) limit 100"),
    ("select * from foo where $__dateFilter(dateCol)",
     "select * from foo where dateCol >= toDate('2014-11-12') AND dateCol <= toDate('2015-11-12')"),
    ("select * from foo where $__dateTimeFilter(dateCol, timeCol)",
     "select * from foo where (dateCol >= toDate('2014-11-12') AND dateCol <= toDate('2015-11-12')) AND "
     "(timeCol >= toDateTime(1415792726) AND timeCol <= toDateTime(1447328726))"),
])
def test_the_plugins_documented_interpolations(sql, expected):
    assert macros.expand(sql, FROM, TO) == expected


@pytest.mark.parametrize("sql, expected", [
    ("select $__timeInterval(col) from foo", "select toStartOfInterval(toDateTime(col), INTERVAL 20 second) from foo"),
    ("select $__timeInterval_ms(col) from foo",
     "select toStartOfInterval(toDateTime64(col, 3), INTERVAL 20000 millisecond) from foo"),
    ("select toStartOfInterval(col, INTERVAL $__interval_s second) AS time from foo",
     "select toStartOfInterval(col, INTERVAL 20 second) AS time from foo"),
])
def test_the_plugins_documented_intervals(sql, expected):
    assert macros.expand(sql, FROM, TO, interval_s=20) == expected


def test_a_sub_second_range_start_is_truncated_to_its_second_as_the_plugin_does():
    # The defect this port fixed: a start of .900 s filtered from .900 s here, from .000 s in Grafana.
    assert macros.expand("$__timeFilter(t)", 1_000_900, 2_000_100) == \
        "t >= toDateTime(1000) AND t <= toDateTime(2000)"
    assert macros.expand("$__timeInterval(t)", 0, 1, interval_s=0.4) == \
        "toStartOfInterval(toDateTime(t), INTERVAL 1 second)"


def test_a_parameterless_macro_followed_by_brackets_takes_them_as_its_arguments_as_the_sdk_does():
    # The SDK scans from the name to the first bracket pair unless a ')' comes first; `$__toTime` ignores them.
    assert macros.expand("x <= $__toTime AND f(y) = 1", 0, 5_000) == "x <= toDateTime(5) = 1"
    assert macros.expand("(x <= $__toTime) AND f(y)", 0, 5_000) == "(x <= toDateTime(5)) AND f(y)"


def test_variables_are_replaced_before_macros_with_grafanas_formats():
    sql = "surface IN (${surface:singlequote}) AND job = '${job}' AND $__timeFilter(t)"
    assert macros.expand(sql, 0, 1_000, variables={"surface": ["a", "o'b"], "job": "j1"}) == \
        "surface IN ('a','o\\'b') AND job = 'j1' AND t >= toDateTime(0) AND t <= toDateTime(1)"


def test_a_macro_with_the_wrong_arguments_or_an_unknown_one_is_refused():
    with pytest.raises(ValueError, match="timeFilter"):
        macros.expand("$__timeFilter(a, b)", 0, 1)
    with pytest.raises(ValueError, match="unexpanded"):
        macros.expand("SELECT $__unknown", 0, 1)
