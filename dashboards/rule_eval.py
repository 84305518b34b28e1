"""Evaluate provisioned alert rules against ClickHouse offline, in the spirit of `promtool test rules`.

Reads the rendered alert-rules file (what Grafana would load), expands the plugin's macros for each
rule's relative time range ending at the evaluation time, runs the query, and applies the threshold
expression to each returned row as Grafana's multi-dimensional alerting does: string columns are the
instance's labels, the numeric column its value. `for` is honoured: an instance fires at time T when
its condition held at every group evaluation from T - for to T (before that it is pending).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import yaml

from dashboards import macros
from dashboards.alerts import EXPRESSION_DATASOURCE, Threshold

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ProvisionedRule:
    uid: str
    title: str
    sql: str
    range_from_s: int
    range_to_s: int
    threshold: Threshold
    pending_s: int
    interval_s: int
    no_data_state: str


@dataclass(frozen=True)
class Instance:
    """One alert instance's outcome at one evaluation time."""

    rule: str
    labels: Labels
    value: float | None
    state: str  # firing | pending | normal | nodata

    @property
    def firing(self) -> bool:
        return self.state == "firing"


def _seconds(text: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600}
    return int(text[:-1]) * units[text[-1]] if text and text != "0" else 0


def load(path: Path) -> list[ProvisionedRule]:
    """Every rule in a Grafana alert-rules provisioning file; refuses shapes it cannot evaluate."""
    document = yaml.safe_load(Path(path).read_text())
    loaded = []
    for group in document["groups"]:
        for rule in group["rules"]:
            data = {d["refId"]: d for d in rule["data"]}
            condition = data[rule["condition"]]["model"]
            if condition.get("type") != "threshold":
                raise ValueError(f"{path}: rule {rule['uid']}: only threshold conditions can be evaluated offline")
            query = data[condition["expression"]]
            if query["datasourceUid"] == EXPRESSION_DATASOURCE:
                raise ValueError(f"{path}: rule {rule['uid']}: the threshold must read a data-source query")
            evaluator = condition["conditions"][0]["evaluator"]
            loaded.append(ProvisionedRule(
                uid=rule["uid"], title=rule["title"], sql=query["model"]["rawSql"],
                range_from_s=query["relativeTimeRange"]["from"], range_to_s=query["relativeTimeRange"]["to"],
                threshold=Threshold(evaluator["type"], tuple(float(p) for p in evaluator["params"])),
                pending_s=_seconds(rule.get("for", "0")), interval_s=_seconds(group["interval"]),
                no_data_state=rule["noDataState"]))
    return loaded


def _query(client, rule: ProvisionedRule, at_ms: int) -> dict[Labels, float]:
    """Label set -> value, for the rule's query over [at - from, at - to]."""
    sql = macros.expand(rule.sql, at_ms - rule.range_from_s * 1000, at_ms - rule.range_to_s * 1000)
    result = client.query(sql)
    if not result.result_rows:
        return {}
    numeric = [i for i, t in enumerate(result.column_types) if t.python_type in (int, float)]
    if len(numeric) != 1:
        raise ValueError(f"rule {rule.uid}: the query must return exactly one numeric column, got "
                         f"{list(result.column_names)}")
    values = {}
    for row in result.result_rows:
        labels = tuple((name, str(row[i])) for i, name in enumerate(result.column_names) if i != numeric[0])
        values[labels] = None if row[numeric[0]] is None else float(row[numeric[0]])
    return values


def evaluate(client, rule: ProvisionedRule, at_ms: int) -> list[Instance]:
    """Each instance's state at `at_ms`, `for` included."""
    now = _query(client, rule, at_ms)
    if not now:
        state = {"Alerting": "firing", "OK": "normal"}.get(rule.no_data_state, "nodata")
        return [Instance(rule.uid, (), None, state)]
    held = {labels for labels, value in now.items() if value is not None and rule.threshold.met(value)}
    step = max(rule.interval_s, 1) * 1000
    for earlier in range(at_ms - step, at_ms - rule.pending_s * 1000 - 1, -step):
        if not held:
            break
        before = _query(client, rule, earlier)
        held = {labels for labels in held if before.get(labels) is not None and rule.threshold.met(before[labels])}
    instances = []
    for labels, value in now.items():
        met = value is not None and rule.threshold.met(value)
        instances.append(Instance(rule.uid, labels, value, "firing" if labels in held else "pending" if met else "normal"))
    return instances


def report(client, rules: list[ProvisionedRule], times_ms: list[int], out=print) -> int:
    """Print every instance's state at each time, as `riskstream alerts test` does; returns how many fired."""
    firing = 0
    for at_ms in times_ms:
        out(f"== at {datetime.fromtimestamp(at_ms / 1000, timezone.utc).isoformat()}")
        for rule in rules:
            for instance in evaluate(client, rule, at_ms):
                labels = ", ".join(f"{k}={v}" for k, v in instance.labels) or "-"
                value = "no data" if instance.value is None else f"{instance.value:.4g}"
                out(f"  {instance.state:<8} {rule.title:<34} {labels:<28} {value}")
                firing += instance.firing
    return firing
