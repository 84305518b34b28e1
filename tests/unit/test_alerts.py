"""The rendered alerting files: rule shape, routing by severity and team, offline evaluation logic."""
import re

import pytest
import yaml

from dashboards import notifications, render, rule_eval
from dashboards.alerts import Threshold

ALERTING = render.OUTPUT / "alerting"
RUNBOOKS = (render.OUTPUT.parent / "RUNBOOKS.md").read_text()


def _rules() -> list[dict]:
    return [r for g in yaml.safe_load(render.ALERT_RULES.read_text())["groups"] for r in g["rules"]]


def test_every_rule_is_labelled_documented_and_states_its_no_data_and_error_behaviour():
    rules = _rules()
    assert len({r["uid"] for r in rules}) == len(rules) == 6
    for rule in rules:
        assert rule["labels"]["severity"] in ("critical", "warning")
        assert rule["labels"]["team"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        anchor = rule["annotations"]["runbook_url"].rsplit("#", 1)[1]
        assert f"\n## {anchor}\n" in RUNBOOKS, anchor
        assert rule["noDataState"] in ("OK", "NoData", "Alerting", "KeepLast")
        assert rule["execErrState"] in ("OK", "Error", "Alerting", "KeepLast")
        assert re.fullmatch(r"\d+[smh]", rule["for"])
        refs = {d["refId"]: d for d in rule["data"]}
        assert refs[rule["condition"]]["datasourceUid"] == "__expr__"
        assert refs["A"]["model"]["rawSql"].lstrip().upper().startswith("SELECT")


def test_the_stall_rule_alerts_on_no_data_and_the_others_do_not():
    states = {r["uid"]: r["noDataState"] for r in _rules()}
    assert states.pop("riskstream-pipeline-stalled") == "Alerting"
    assert set(states.values()) == {"OK"}


def test_contact_points_take_addresses_and_keys_from_the_environment():
    points = yaml.safe_load((ALERTING / "riskstream-contact-points.yaml").read_text())["contactPoints"]
    required = {"webhook": "url", "email": "addresses", "pagerduty": "integrationKey", "slack": "url"}
    assert {p["receivers"][0]["type"] for p in points} == set(required)
    for point in points:
        receiver = point["receivers"][0]
        assert re.fullmatch(r"\$\{RISKSTREAM_[A-Z_]+\}", receiver["settings"][required[receiver["type"]]])


def test_policies_route_by_severity_and_team_to_existing_contact_points():
    names = {p["name"] for p in yaml.safe_load((ALERTING / "riskstream-contact-points.yaml").read_text())["contactPoints"]}
    tree = yaml.safe_load((ALERTING / "riskstream-policies.yaml").read_text())["policies"][0]
    routed = {tree["receiver"]} | {r["receiver"] for r in tree["routes"]}
    assert routed <= names
    labels = {r["uid"]: r["labels"] for r in _rules()}
    spike = notifications.receivers_for(labels["riskstream-unsafe-rate-spike"], tree)
    assert spike == ["riskstream-webhook", "riskstream-pagerduty", "trust-safety-slack"]
    assert notifications.receivers_for(labels["riskstream-dead-letter-rate"], tree) == ["riskstream-webhook",
                                                                                       "riskstream-email"]
    assert notifications.receivers_for({}, tree) == ["riskstream-webhook"]


@pytest.mark.parametrize("kind, params, value, met", [
    ("gt", (4,), 4.5, True), ("gt", (4,), 4, False), ("lt", (0.95,), 0.5, True), ("lt", (0.95,), 1, False),
    ("within_range", (0, 1), 0.5, True), ("outside_range", (0, 1), 0.5, False), ("outside_range", (0, 1), 2, True),
])
def test_threshold_evaluators(kind, params, value, met):
    assert Threshold(kind, params).met(value) is met


def test_loading_refuses_a_condition_it_cannot_evaluate(tmp_path):
    document = yaml.safe_load(render.ALERT_RULES.read_text())
    document["groups"][0]["rules"][0]["data"][1]["model"]["type"] = "math"
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(ValueError, match="only threshold conditions"):
        rule_eval.load(path)
    assert [r.pending_s for r in rule_eval.load(render.ALERT_RULES)] == [180, 180, 300, 0, 0, 120]


SLICE = (("surface", "shorts"), ("region", "br"))


def test_another_querys_row_reaches_an_instance_as_grafana_matches_labels():
    causes = (*SLICE, ("top_causes", "1. item_category=music"))
    other = (("surface", "home"), ("region", "br"), ("top_causes", "none"))
    assert rule_eval.match(SLICE, {other: 0.0, causes: 3.0}) == rule_eval.Capture(causes, 3.0)  # holds the labels
    assert rule_eval.match(SLICE, {SLICE: 2.0, causes: 3.0}) == rule_eval.Capture(SLICE, 2.0)  # equal ones first
    assert rule_eval.match(SLICE, {other: 0.0}) is None
    assert rule_eval.match(SLICE, {(("surface", "shorts"),): 1.0}) == rule_eval.Capture((("surface", "shorts"),), 1.0)
    with pytest.raises(ValueError, match="2 rows match"):
        rule_eval.match(SLICE, {causes: 3.0, (*SLICE, ("top_causes", "other")): 1.0})


def test_annotations_expand_as_grafanas_templates_print_them_and_unknown_forms_are_refused():
    values = {"A": rule_eval.Capture(SLICE, 1234567.0), "C": rule_eval.Capture(SLICE, 1.0),
              "B": rule_eval.Capture((*SLICE, ("top_causes", "1. music: 80%")), 1.0)}
    assert rule_eval.expand("{{ $labels.surface }}/{{ $labels.region }}: {{ $values.A.Value }} "
                            "({{ humanizePercentage $values.C.Value }}) {{ $values.B.Labels.top_causes }}",
                            SLICE, values) == "shorts/br: 1.234567e+06 (100%) 1. music: 80%"
    assert rule_eval.expand("{{ $labels.nope }}", SLICE, values) == "<no value>"
    with pytest.raises(ValueError, match="has no value for D"):
        rule_eval.expand("{{ $values.D.Value }}", SLICE, values)
    with pytest.raises(ValueError, match="not a form"):
        rule_eval.expand("{{ range $values }}x{{ end }}", SLICE, values)


def test_the_spike_rules_notification_carries_the_causes_from_a_query_that_is_not_its_identity():
    [spike] = [r for r in rule_eval.load(render.ALERT_RULES) if r.uid == "riskstream-unsafe-rate-spike"]
    assert [ref for ref, _ in spike.context] == ["B"] and (spike.query, spike.condition) == ("A", "C")
    assert dict(spike.annotations)["causes"] == "{{ $values.B.Labels.top_causes }}"
    # Every other rule judges one query; their instances keep the labels of A alone.
    assert all(not r.context for r in rule_eval.load(render.ALERT_RULES) if r.uid != spike.uid)
