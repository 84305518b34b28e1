"""Evaluate provisioned alert rules against ClickHouse offline, in the spirit of `promtool test rules`.

Reads the rendered alert-rules file (what Grafana would load), expands the plugin's macros for each
rule's relative time range ending at the evaluation time, runs the query, and applies the threshold
expression to each returned row as Grafana's multi-dimensional alerting does: string columns are the
instance's labels, the numeric column its value. `for` is honoured: an instance fires at time T when
its condition held at every group evaluation from T - for to T (before that it is pending).

Each instance's `$values` are built as Grafana builds them: per other query, the row whose labels equal
the instance's, else the one whose labels hold them or are held by them. Annotations are expanded from
them; the expander knows the template forms the project's rules use and refuses any other, so a rule
that would print something else in Grafana fails here instead.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
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
    condition: str = "C"
    query: str = "A"
    context: tuple[tuple[str, str], ...] = ()      # (refId, SQL) of the other queries, over the same range
    annotations: tuple[tuple[str, str], ...] = ()  # (name, template)


@dataclass(frozen=True)
class Capture:
    """What `$values.<refId>` holds for an instance: a row's labels and value."""

    labels: Labels
    value: float | None


@dataclass(frozen=True)
class Instance:
    """One alert instance's outcome at one evaluation time."""

    rule: str
    labels: Labels
    value: float | None
    state: str  # firing | pending | normal | nodata
    values: dict[str, Capture] = field(default_factory=dict, compare=False)
    annotations: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def firing(self) -> bool:
        return self.state == "firing"

    @property
    def met(self) -> bool:
        """Its condition holds now: firing, or pending until its `for` period has passed."""
        return self.state in ("firing", "pending")


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
            others = [d for ref, d in data.items() if ref not in (rule["condition"], condition["expression"])]
            if any(d["datasourceUid"] == EXPRESSION_DATASOURCE for d in others):
                raise ValueError(f"{path}: rule {rule['uid']}: only data-source queries can be context")
            if any(d["relativeTimeRange"] != query["relativeTimeRange"] for d in others):
                raise ValueError(f"{path}: rule {rule['uid']}: context queries must share the rule's time range")
            loaded.append(ProvisionedRule(
                uid=rule["uid"], title=rule["title"], sql=query["model"]["rawSql"],
                range_from_s=query["relativeTimeRange"]["from"], range_to_s=query["relativeTimeRange"]["to"],
                threshold=Threshold(evaluator["type"], tuple(float(p) for p in evaluator["params"])),
                pending_s=_seconds(rule.get("for", "0")), interval_s=_seconds(group["interval"]),
                no_data_state=rule["noDataState"], condition=rule["condition"], query=condition["expression"],
                context=tuple((d["refId"], d["model"]["rawSql"]) for d in others),
                annotations=tuple(rule.get("annotations", {}).items())))
    return loaded


def _query(client, rule: ProvisionedRule, at_ms: int, sql: str | None = None) -> dict[Labels, float]:
    """Label set -> value, for the rule's query (or `sql`) over [at - from, at - to]."""
    sql = macros.expand(sql or rule.sql, at_ms - rule.range_from_s * 1000, at_ms - rule.range_to_s * 1000)
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
    context = {ref: _query(client, rule, at_ms, sql) for ref, sql in rule.context}
    instances = []
    for labels, value in now.items():
        met = value is not None and rule.threshold.met(value)
        values = {rule.query: Capture(labels, value), rule.condition: Capture(labels, float(met)),
                  **{ref: capture for ref, rows in context.items() if (capture := match(labels, rows)) is not None}}
        instances.append(Instance(rule.uid, labels, value, "firing" if labels in held else "pending" if met else "normal",
                                  values, {name: expand(template, labels, values) for name, template in rule.annotations}))
    return instances


def match(labels: Labels, rows: dict[Labels, float | None]) -> Capture | None:
    """The row of another query that Grafana gives an instance with `labels`: equal labels first, else the
    one whose labels hold them or are held by them. More than one such row is an error here: Grafana would
    take one of them at random."""
    if labels in rows:
        return Capture(labels, rows[labels])
    mine = set(labels)
    found = [Capture(other, value) for other, value in rows.items() if mine <= set(other) or set(other) <= mine]
    if len(found) > 1:
        raise ValueError(f"{len(found)} rows match the instance {dict(labels)}: Grafana would pick one at random")
    return found[0] if found else None


_ACTION = re.compile(r"{{-?\s*(.*?)\s*-?}}")
_REFERENCE = re.compile(r"\$(labels)\.(\w+)|\$values\.(\w+)(?:\.(Value)|\.Labels\.(\w+))?")


def expand(template: str, labels: Labels, values: dict[str, Capture]) -> str:
    """An annotation as Grafana's templating prints it, for the forms rules here use: `$labels.x`,
    `$values.R`, `$values.R.Value`, `$values.R.Labels.x`, each optionally through `humanizePercentage`."""
    def action(found: re.Match) -> str:
        function, _, argument = found.group(1).rpartition(" ")
        if function not in ("", "humanizePercentage"):
            raise ValueError(f"template action {{{{ {found.group(1)} }}}}: not a form the offline evaluator knows")
        reference = _REFERENCE.fullmatch(argument)
        if reference is None:
            raise ValueError(f"template action {{{{ {found.group(1)} }}}}: not a form the offline evaluator knows")
        if reference.group(1):
            return dict(labels).get(reference.group(2), "<no value>")
        capture = values.get(reference.group(3))
        if capture is None:
            raise ValueError(f"{argument}: the instance {dict(labels)} has no value for {reference.group(3)}")
        if reference.group(5):
            return dict(capture.labels).get(reference.group(5), "<no value>")
        if function:
            return f"{100 * capture.value:.4g}%"
        return _go_float(capture.value)

    return _ACTION.sub(action, template)


def _go_float(value: float | None) -> str:
    """A float64 as Go's %v prints it: the shortest digits, in exponent form below 1e-4 and from 1e6 on."""
    if value is None:
        return "<nil>"
    if value == 0:
        return "0"
    shortest = Decimal(repr(float(value))).normalize()  # repr holds the shortest digits, as Go's do
    sign, digits, power = shortest.as_tuple()
    exponent = len(digits) - 1 + power
    if -4 <= exponent < 6:
        return format(shortest, "f")
    text = "".join(map(str, digits))
    mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
    return f"{'-' if sign else ''}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"


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
                if instance.firing:  # what the notification says, but the long text and the runbook link
                    for name, text in instance.annotations.items():
                        if name not in ("description", "runbook_url"):
                            out(f"             {name}: {text}")
                firing += instance.firing
    return firing
