"""Every dashboard and alert query, macros expanded for a concrete range, runs against the job's real ClickHouse schema."""
import json
import re

import pytest

from dashboards import macros, render, rule_eval, safety_overview
from dashboards.clickhouse_query import PLUGIN_ID
from riskstream.io import clickhouse

# A fixed range; DESCRIBE gives the result columns whether or not rows match.
FROM_MS, TO_MS = 1_767_139_200_000, 1_767_571_200_000
NUMERIC = re.compile(r"(Nullable\()?(U?Int|Float|Decimal)")
STRING = re.compile(r"(Nullable\()?(LowCardinality\()?String")

# Template variables as Grafana would substitute them (multi-value ones as lists).
VARIABLES = {"job": "e2e-correctness", "surface": ["shorts", "home_feed"], "region": ["br"], "category": ["news"],
             "version": "", "at": "", "minutes": "10",  # the Trace dashboard's text boxes
             "model_version": "recsys-2026.11", "previous_version": "recsys-2026.10"}

EXPECTED = {
    "Unsafe rate by surface": ["time", "surface", "unsafe_rate"],
    "Exposure-weighted harm by surface": ["time", "surface", "harm"],
    "Coverage (scored / impressions)": ["time", "coverage"],
    "Safety score quantiles": ["time", "p50", "p95", "p99"],
    "Top unsafe categories": ["category", "unsafe_impressions"],
    "Top unsafe items": ["item_id", "unsafe_impressions", "max_score", "surfaces"],
    "Circuit breaker transitions": ["since", "surface", "region", "recommender_model_version", "from_state",
                                    "to_state", "scored", "unsafe", "rate", "baseline_rate", "z", "reason",
                                    "policy_version", "at_ms"],
    "Shadow policy: unsafe rate in force vs if enforced": ["time", "shadow_policy_version", "in_force", "if_enforced"],
}


def _columns(services, sql: str) -> list[tuple[str, str]]:
    """(name, type) of a query's result, from ClickHouse's own analysis: there even when no row matches."""
    client = clickhouse.connect(services.clickhouse, database=services.clickhouse.database)
    try:
        return [(row[0], row[1]) for row in client.query(f"DESCRIBE ({sql})").result_rows]
    finally:
        client.close()


@pytest.mark.parametrize("title", list(EXPECTED))
def test_overview_panel_query_returns_the_columns_the_panel_expects(services, title):
    sql = safety_overview.queries(services.clickhouse.database)[title]
    columns = _columns(services, macros.expand(sql, FROM_MS, TO_MS, variables=VARIABLES))
    assert [name for name, _ in columns] == EXPECTED[title]


def _clickhouse_queries() -> list[tuple[str, str, str]]:
    """(where, query type, SQL) of every ClickHouse query in the rendered dashboards: panels,
    template variables and annotations."""
    found = []
    for relative, content in render.files().items():
        if not relative.endswith(".json"):
            continue
        model = json.loads(content)
        for panel in model["panels"]:
            for target in panel["targets"]:
                if target["datasource"]["type"] == PLUGIN_ID:
                    found.append((f"{model['uid']}: {panel['title']}", target["queryType"], target["rawSql"]))
        for variable in model["templating"]["list"]:
            if variable["type"] == "query":
                found.append((f"{model['uid']}: ${variable['name']}", "variable", variable["query"]["rawSql"]))
        for annotation in model["annotations"]["list"]:
            found.append((f"{model['uid']}: {annotation['name']}", "annotation", annotation["target"]["rawSql"]))
    return found


@pytest.mark.parametrize("where, kind, sql", _clickhouse_queries(), ids=lambda v: v if " " not in str(v) else None)
def test_every_dashboard_query_runs_and_returns_what_its_panel_reads(services, where, kind, sql):
    columns = _columns(services, macros.expand(sql, FROM_MS, TO_MS, variables=VARIABLES))
    names, types = [n for n, _ in columns], [t for _, t in columns]
    if kind == "timeseries":  # a time column first, numbers to plot, strings naming the series
        assert names[0] == "time" and types[0].startswith("DateTime"), columns
        assert any(NUMERIC.match(t) for t in types[1:]), columns
        assert all(NUMERIC.match(t) or STRING.match(t) for t in types[1:]), columns
    elif kind == "variable":  # one column of values
        assert len(columns) == 1 and STRING.match(types[0]), columns
    elif kind == "annotation":
        assert names == ["time", "text"] and types[0].startswith("DateTime"), columns
    else:
        assert columns, where


def test_macros_expand_completely_or_refuse():
    with pytest.raises(ValueError, match="unexpanded"):
        macros.expand("SELECT $__unknown", 0, 1)
    assert "toStartOfInterval" in macros.expand("SELECT $__timeInterval(t)", 0, 60_000)


@pytest.mark.parametrize("rule", rule_eval.load(render.ALERT_RULES), ids=lambda r: r.uid)
def test_alert_query_returns_label_columns_and_one_numeric_value(services, rule):
    columns = _columns(services, macros.expand(rule.sql, TO_MS - rule.range_from_s * 1000, TO_MS))
    numeric = [name for name, t in columns if NUMERIC.match(t)]
    assert len(numeric) == 1, columns  # the value; every other column is a label
    assert all(STRING.match(t) for name, t in columns if name not in numeric), columns
    client = clickhouse.connect(services.clickhouse, database=services.clickhouse.database)
    try:
        instances = rule_eval.evaluate(client, rule, TO_MS)
    finally:
        client.close()
    assert instances and all(i.state in ("normal", "pending", "firing", "nodata") for i in instances)
