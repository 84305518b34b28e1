"""Model bias against human labels, end to end: impressions and a review queue's labels through Kafka, Triton
and the safety-health job into ClickHouse, then `riskstream bias` on what the job wrote.

The generator simulates a model biased against one creator cohort (its benign captions carry slang the model
over-flags; people label them benign). Every outcome row is checked against a reference made here from the
generator's labels and Triton's scores, and every statistic against one computed with scipy from the same
labels (not statsmodels, which the command uses): the biased cohort is flagged, the others are not."""
from __future__ import annotations

import contextlib
import io
import json
import time
import tomllib
import uuid
from collections import defaultdict
from dataclasses import replace

import pytest

from dashboards import macros, model_bias
from jobs import safety_health
from riskstream.cli.generator import GeneratorSettings, LabelSampling, generate
from riskstream.cli.main import main
from riskstream.core import paths, schemas
from riskstream.core.job_config import HealthJobSettings
from riskstream.io import kafka_admin, topics
from tests import bias_reference
from tests.e2e import kafka_io, reference, store
from udfs.wire import Encoder, SchemaHistory, WireFormat

HOUR_MS = 3_600_000
START_MS = (int(time.time() * 1000) // HOUR_MS - 48) * HOUR_MS  # recent: labels are kept a year by label time
JOB = f"e2e-bias-{START_MS}"
BIASED = "new"
IMPRESSIONS = Encoder(SchemaHistory.from_folder(schemas.IMPRESSION_HISTORY).latest, WireFormat.SINGLE_OBJECT)
LABELS = Encoder(SchemaHistory.from_folder(schemas.MODERATION_LABEL_HISTORY).latest, WireFormat.SINGLE_OBJECT)


@pytest.fixture(scope="module")
def run(services, stack, tmp_path_factory):
    """The stream, the labels (and a few bad label records) sent, the job run over them; what was sent, and
    the labels' topic."""
    # Labels of their own topic: other tests' jobs read the shared one.
    kafka = replace(services.kafka, moderation_labels_topic=f"moderation-labels-e2e-{uuid.uuid4().hex[:8]}")
    kafka_admin.ensure_topics(kafka.bootstrap_servers, topics.specs(kafka))
    start = kafka_admin.end_offsets(kafka.bootstrap_servers, kafka.impressions_topic)
    label_start = kafka_admin.end_offsets(kafka.bootstrap_servers, kafka.moderation_labels_topic)
    generated = list(generate(GeneratorSettings(seed=31, count=20_000, rate=100.0, start_ms=START_MS,
                                                labels=LabelSampling(share=0.05), biased_cohort=BIASED)))
    records = [g.record for g in generated]
    labels = sorted((g.moderation_label for g in generated if g.moderation_label), key=lambda r: r["labeled_at"])
    last = labels[-1]["labeled_at"]
    never_shown = {**labels[0], "label_id": "label-never-shown", "item_id": "item-never-shown"}
    unknown_category = {**labels[0], "label_id": "label-weather", "reviewed_categories": ["weather"]}
    kafka_io.send(kafka.bootstrap_servers, kafka.impressions_topic,
                  [(r["user_id_hash"].encode(), IMPRESSIONS.encode(r), r["event_time"]) for r in records])
    bad = [(b"item-x", b"not a label", last), (b"item-x", LABELS.encode(unknown_category), last)]
    sent = kafka_io.send(kafka.bootstrap_servers, kafka.moderation_labels_topic,
                         [(r["item_id"].encode(), LABELS.encode(r), r["labeled_at"])
                          for r in [*labels, labels[1], never_shown]] + bad)  # labels[1] twice: counted once
    safety_health.run(replace(services, kafka=kafka), HealthJobSettings(
        bounded=True, start_offsets=start, label_join=True, label_start_offsets=label_start, job_id=JOB,
        checkpoint_dir=tmp_path_factory.mktemp("bias") / "checkpoints"))
    return records, labels, never_shown, sent[-2:], kafka.moderation_labels_topic


def _truth(services, records, labels):
    """(label id, category) -> (violating, score, flagged, creator cohort), from the generator and Triton."""
    items = {r["item_id"]: r for r in records}
    scored, categories = reference.model_scores(services, [items[label["item_id"]] for label in labels])
    with (paths.REPO_ROOT / "policies" / "default.toml").open("rb") as fh:
        thresholds = tomllib.load(fh)["thresholds"]
    return {(label["label_id"], category): (category in label["violating_categories"], score,
                                            score >= thresholds[category], items[label["item_id"]]["creator_cohort"])
            for label, scores in zip(labels, scored) for category, score in zip(categories, scores)}


def test_every_label_is_joined_to_the_score_and_flag_the_job_gave_its_item(services, run):
    records, labels, never_shown, *_ = run
    truth = _truth(services, records, labels)
    rows = store.query(services, "SELECT label_id, category, human_violating, model_score, model_flagged, "
                                 "creator_cohort, model_version FROM label_outcomes FINAL WHERE job_id = {job:String}",
                       job=JOB)
    got = {(r["label_id"], r["category"]): r for r in rows}
    unscored = {key: r for key, r in got.items() if key[0] == never_shown["label_id"]}
    assert len(unscored) == 6 and all(r["model_score"] is None and r["model_flagged"] is None
                                      and r["creator_cohort"] == "unknown" for r in unscored.values())
    scored = {key: r for key, r in got.items() if key[0] != never_shown["label_id"]}
    assert scored.keys() == truth.keys()
    for key, (violating, score, flagged, cohort) in truth.items():
        row = scored[key]
        assert (row["human_violating"], row["model_flagged"], row["creator_cohort"], row["model_version"]) == \
               (violating, flagged, cohort, "1"), key
        assert row["model_score"] == pytest.approx(score, abs=1e-6), key


def test_bad_label_records_are_dead_letters_with_their_codes(services, run):
    *_, bad, topic = run
    rows = store.query(services, "SELECT source_partition, source_offset, error_class FROM dead_letters FINAL "
                                 "WHERE job_id = {job:String} AND source_topic = {topic:String}", job=JOB, topic=topic)
    assert sorted((r["source_partition"], r["source_offset"], r["error_class"]) for r in rows) == \
           sorted([(*bad[0], "not_avro"), (*bad[1], "invalid_label")])


def _expected_findings(truth) -> dict:
    """The reference's findings (tests/bias_reference.py) over the labels' truth, per category and over any."""
    per_label = defaultdict(lambda: [False, False, None])
    tallies = defaultdict(lambda: defaultdict(lambda: [0, 0]))  # (category, metric) -> cohort -> [k, n]
    for (label_id, category), (violating, _, flagged, cohort) in truth.items():
        entry = per_label[label_id]
        entry[0] |= violating
        entry[1] |= flagged
        entry[2] = cohort
        _tally(tallies, category, cohort, violating, flagged)
    for violating, flagged, cohort in per_label.values():
        _tally(tallies, "any", cohort, violating, flagged)
    return bias_reference.findings(tallies)


def _tally(tallies, category, cohort, violating, flagged):
    for metric, counts, hit in (("flag_rate", True, flagged), ("false_positive_rate", not violating, flagged),
                                ("false_negative_rate", violating, not flagged)):
        if counts:
            entry = tallies[(category, metric)][cohort]
            entry[0] += hit
            entry[1] += 1


def test_the_biased_cohort_is_flagged_and_the_others_are_not_as_an_independent_reference_says(services, stack, run):
    records, labels, *_ = run
    expected = _expected_findings(_truth(services, records, labels))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["bias", "--to", str(START_MS + 3 * HOUR_MS), "--hours", "4", "--job-id", JOB, "--write",
                     "--json", "--state-dir", str(stack.state_dir)]) == 0
    findings = {(f["category"], f["cohort"], f["metric"]): f for f in map(json.loads, out.getvalue().splitlines())}
    assert findings.keys() == expected.keys()
    for key, (k, n, low, high, p, adjusted) in expected.items():
        got = findings[key]
        assert (got["successes"], got["trials"]) == (k, n), key
        assert (got["ci_low"], got["ci_high"]) == (pytest.approx(low, abs=1e-12), pytest.approx(high, abs=1e-12)), key
        assert got["p_value"] == (None if p is None else pytest.approx(p, rel=1e-9, abs=1e-300)), key
        assert got["p_adjusted"] == (None if adjusted is None else pytest.approx(adjusted, rel=1e-9)), key
    significant = {key for key, f in findings.items() if f["significant"]}
    # The simulated bias: the new cohort's benign content is flagged more, overall and in toxicity.
    assert {("any", BIASED, "false_positive_rate"), ("toxicity", BIASED, "false_positive_rate"),
            ("any", BIASED, "flag_rate")} <= significant
    assert all(cohort == BIASED for _, cohort, _ in significant), significant
    assert all(findings[key]["p_adjusted"] >= 0.01 for key in findings
               if key[1] != BIASED and findings[key]["p_adjusted"] is not None)
    written = store.query(services, "SELECT category, cohort, metric, significant FROM bias_findings "
                                    "WHERE job_id = {job:String}", job=JOB)
    assert {(r["category"], r["cohort"], r["metric"]) for r in written if r["significant"]} == significant
    # The alert rule, evaluated as Grafana would at its next evaluation (a minute on), fires for exactly those.
    [instances] = store.evaluate_rule(services, "riskstream-model-bias", int(time.time() * 1000) + 60_000)
    firing = {(labels["category"], labels["cohort"], labels["metric"])
              for labels in (dict(i.labels) for i in instances if i.firing)}
    assert firing == significant


def test_the_dashboards_cohort_table_is_the_references_rates_and_intervals(services, run):
    records, labels, *_ = run
    expected = _expected_findings(_truth(services, records, labels))
    sql = macros.expand(model_bias.queries(services.clickhouse.database)["Creator cohorts against human labels"],
                        START_MS, START_MS + 4 * HOUR_MS, variables={"job": JOB})
    rows = store.query(services, sql)
    assert {r["cohort"] for r in rows} == {cohort for category, cohort, _ in expected if category == "any"}
    for row in rows:
        k, n, low, high, *_ = expected[("any", row["cohort"], "false_positive_rate")]
        assert row["false_positive_pct"] == pytest.approx(round(100 * k / n, 2), abs=1e-9)
        assert (row["fp_low_pct"], row["fp_high_pct"]) == (pytest.approx(round(100 * low, 2), abs=0.011),
                                                           pytest.approx(round(100 * high, 2), abs=0.011))
        assert row["labelled"] == expected[("any", row["cohort"], "flag_rate")][1]


def test_policy_evaluate_gives_each_thresholds_precision_and_recall_on_the_labelled_items(services, stack, run,
                                                                                          tmp_path):
    records, labels, *_ = run
    truth = _truth(services, records, labels)
    candidate = {"toxicity": 0.8, "hate": 0.3, "sexual": 0.5, "violence": 0.4, "self_harm": 0.6, "spam": 0.5}
    path = tmp_path / "candidate.toml"
    path.write_text('version = "e2e-candidate"\n\n[thresholds]\n' +
                    "".join(f"{category} = {value}\n" for category, value in candidate.items()))
    with (paths.REPO_ROOT / "policies" / "default.toml").open("rb") as fh:
        active = tomllib.load(fh)["thresholds"]  # the topic's active policy: the file's, published first
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["policy", "evaluate", str(path), "--to", str(START_MS + 3 * HOUR_MS), "--hours", "4",
                     "--job-id", JOB, "--json", "--state-dir", str(stack.state_dir)]) == 0
    found = {row["category"]: row for row in map(json.loads, out.getvalue().splitlines()) if row["category"]}
    assert found.keys() == candidate.keys()
    for category in candidate:
        for side, thresholds in (("candidate", candidate), ("active", active)):
            judged = [(score >= thresholds[category], violating)
                      for (_, c), (violating, score, _, _) in truth.items() if c == category]
            tp = sum(f and v for f, v in judged)
            fp = sum(f and not v for f, v in judged)
            fn = sum(v and not f for f, v in judged)
            got = found[category][side]
            assert (got["true_positives"], got["false_positives"], got["false_negatives"], got["labelled"]) == \
                   (tp, fp, fn, len(judged)), (category, side)
            assert got["precision"] == (tp / (tp + fp) if tp + fp else None)
            assert got["recall"] == (tp / (tp + fn) if tp + fn else None)
