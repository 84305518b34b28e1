"""Every dashboard query, macros expanded for a concrete range, runs against the job's real ClickHouse schema."""
import pytest

from dashboards import macros, safety_overview
from riskstream import clickhouse

# 2025-12-31 .. 2026-01-05 covers the e2e runs when they ran first; with no rows the columns still come back.
FROM_MS, TO_MS = 1_767_139_200_000, 1_767_571_200_000

EXPECTED = {
    "Unsafe rate by surface": ["time", "surface", "unsafe_rate"],
    "Exposure-weighted harm by surface": ["time", "surface", "harm"],
    "Coverage (scored / impressions)": ["time", "coverage"],
    "Safety score quantiles": ["time", "p50_weighted_mean", "p95_worst_slice", "p99_worst_slice"],
    "Top unsafe categories": ["category", "unsafe_impressions"],
    "Top unsafe items": ["item_id", "unsafe_impressions", "max_score", "surfaces"],
}


@pytest.mark.parametrize("title", list(EXPECTED))
def test_panel_query_returns_the_columns_the_panel_expects(services, title):
    sql = macros.expand(safety_overview.queries(services.clickhouse.database)[title], FROM_MS, TO_MS)
    client = clickhouse.connect(services.clickhouse, database=services.clickhouse.database)
    try:
        result = client.query(sql)
    finally:
        client.close()
    assert list(result.column_names) == EXPECTED[title]
    types = [t.name for t in result.column_types]
    if EXPECTED[title][0] == "time":
        assert types[0].startswith("DateTime")
        assert all(t.startswith(("Float", "UInt", "Int", "Nullable(Float")) for t, c in
                   zip(types[1:], EXPECTED[title][1:]) if c != "surface"), types
    for row in result.result_rows:
        assert all(value is not None for value in row)


def test_macros_expand_completely_or_refuse():
    with pytest.raises(ValueError, match="unexpanded"):
        macros.expand("SELECT $__unknown", 0, 1)
    assert "toStartOfInterval" in macros.expand("SELECT $__timeInterval(t)", 0, 60_000)
