"""A plain-Python reference of the safety-health aggregates, written independently of udfs/health.py."""
from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from riskstream.core import paths
from tests.e2e import store
from udfs import policy as policy_file

DIMS = ("surface", "region", "recommender_model_version", "item_category")


def model_scores(services, records) -> tuple[list, tuple[str, ...]]:
    """Each record's per-category scores from Triton, asked directly (all at once), and the categories."""
    from riskstream.io.scoring import SafetyScorer

    scorer = SafetyScorer(services.triton)
    scorer.open()
    try:
        return scorer.score([r["caption"] for r in records]).tolist(), scorer.model.categories
    finally:
        scorer.close()


def expected_rows(records, scores, positions, thresholds, categories, size_ms=60_000, slide_ms=300_000):
    """(window_seconds, window_start_ms, *dims) -> metrics, for tumbling and sliding windows.

    records: impression dicts (event_time in ms); scores: per record a list of category scores or None;
    positions: per record its (partition, offset).
    """
    members = defaultdict(list)
    for index, record in enumerate(records):
        start = record["event_time"] - record["event_time"] % size_ms
        dims = tuple(record[d] for d in DIMS)
        members[(size_ms // 1000, start, *dims)].append(index)
        for k in range(slide_ms // size_ms):
            members[(slide_ms // 1000, start - k * size_ms, *dims)].append(index)
    return {key: _metrics(indices, records, scores, positions, thresholds, categories)
            for key, indices in members.items()}


def _metrics(indices, records, scores, positions, thresholds, categories):
    scored = [i for i in indices if scores[i] is not None]
    tops = np.array([max(scores[i]) for i in scored], dtype=np.float32)
    unsafe_by_category = defaultdict(int)
    unsafe_items = defaultdict(lambda: [0, 0.0])
    unsafe = 0
    for i in scored:
        hits = [c for c, s in zip(categories, scores[i]) if s >= thresholds[c]]
        if hits:
            unsafe += 1
            for c in hits:
                unsafe_by_category[c] += 1
            entry = unsafe_items[records[i]["item_id"]]
            entry[0] += 1
            entry[1] = max(entry[1], float(max(scores[i])))
    top = sorted(unsafe_items.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]))[:10]
    offsets = defaultdict(list)
    for i in indices:
        offsets[positions[i][0]].append(positions[i][1])
    quantile = (lambda q: float(np.quantile(tops, q, method="inverted_cdf"))) if len(tops) else (lambda q: None)
    return {
        "impressions": len(indices), "scored": len(scored), "unscored": len(indices) - len(scored),
        "unsafe": unsafe, "unsafe_by_category": dict(unsafe_by_category),
        "harm": float(sum(float(t) for t in tops)),
        "score_p50": quantile(0.5), "score_p95": quantile(0.95), "score_p99": quantile(0.99),
        "first_event_ms": min(records[i]["event_time"] for i in indices),
        **_cohorts(records, scored, scores, thresholds, categories),
        "distinct_items": len({records[i]["item_id"] for i in indices}),
        "distinct_creators": len({records[i]["creator_id"] for i in indices}),
        "top_unsafe_items": [(item, count, score) for item, (count, score) in top],
        "offset_ranges": sorted((p, min(o), max(o)) for p, o in offsets.items()),
    }


def viewer_cohort(record: dict) -> str:
    """The README's viewer cohort key: "age band|locale", "unknown" for a field not sent."""
    return f"{record.get('viewer_age_band') or 'unknown'}|{record.get('viewer_locale') or 'unknown'}"


def _cohorts(records, scored, scores, thresholds, categories) -> dict:
    found = {}
    for name, key in (("viewer_cohort", viewer_cohort), ("creator_cohort", lambda r: r.get("creator_cohort") or "unknown")):
        scored_by, unsafe_by, harm_by = defaultdict(int), defaultdict(int), defaultdict(float)
        for i in scored:
            cohort = key(records[i])
            scored_by[cohort] += 1
            unsafe_by[cohort] += any(s >= thresholds[c] for c, s in zip(categories, scores[i]))
            harm_by[cohort] += float(np.float32(max(scores[i])))
        found.update({f"scored_by_{name}": dict(scored_by), f"unsafe_by_{name}": dict(unsafe_by),
                      f"harm_by_{name}": dict(harm_by)})
    return found


def within_quantile_bound(reported: float | None, exact: float | None) -> bool:
    """The README's bound for a reported score quantile: within 0.5% of the exact one (relative), or at
    most 1e-6 where the exact one is below that."""
    if reported is None or exact is None:
        return reported is exact
    if exact <= 1e-6:
        return reported <= 1e-6 * 1.005
    return abs(reported - exact) <= 0.005 * exact * (1 + 1e-9)


def assert_rows_equal(services, job_id: str, records: list[dict], positions: list) -> None:
    """Every row the job wrote equals the plain-Python reference over the records (scored here, all at once)."""
    scores, categories = model_scores(services, records)
    policy = policy_file.load(paths.REPO_ROOT / "policies" / "default.toml")
    expected = expected_rows(records, scores, positions, policy.thresholds, categories)

    rows = store.query(services, "SELECT *, toUnixTimestamp64Milli(window_start) AS start_ms, "
                                 "toUnixTimestamp64Milli(first_event_time) AS first_ms FROM safety_health FINAL "
                                 "WHERE job_id = {job:String}", job=job_id)
    actual = {(r["window_seconds"], r["start_ms"], r["surface"], r["region"], r["recommender_model_version"],
               r["item_category"]): r for r in rows}
    assert actual.keys() == expected.keys()
    for key, want in expected.items():
        got = actual[key]
        for column in ("impressions", "scored", "unscored", "unsafe", "distinct_items", "distinct_creators"):
            assert got[column] == want[column], (key, column)
        assert {k: v for k, v in got["unsafe_by_category"].items() if v} == want["unsafe_by_category"], key
        assert got["harm"] == pytest.approx(want["harm"], rel=1e-9), key
        for q in ("score_p50", "score_p95", "score_p99"):
            assert within_quantile_bound(got[q], want[q]), (key, q, got[q], want[q])
        assert got["first_ms"] == want["first_event_ms"], key
        for name in ("viewer_cohort", "creator_cohort"):
            assert got[f"scored_by_{name}"] == want[f"scored_by_{name}"], (key, name)
            assert got[f"unsafe_by_{name}"] == want[f"unsafe_by_{name}"], (key, name)
            assert got[f"harm_by_{name}"] == pytest.approx(want[f"harm_by_{name}"], rel=1e-9), (key, name)
        assert [(t["item_id"], t["unsafe_impressions"], pytest.approx(t["max_score"], abs=1e-7))
                for t in got["top_unsafe_items"]] == want["top_unsafe_items"], key
        assert [(o["partition"], o["first_offset"], o["last_offset"]) for o in got["offset_ranges"]] == \
               want["offset_ranges"], key
        # Every scored impression was scored by version 1 (the one the repository serves); none: no version.
        assert (got["model_name"], got["model_version"], got["policy_version"]) == \
               ("safety_text", "1" if want["scored"] else "", policy.version)
        assert got["scored_by_model_version"] == ({"1": want["scored"]} if want["scored"] else {}), key
    tumbling = sum(r["impressions"] for r in rows if r["window_seconds"] == 60)
    assert tumbling == len(records)
