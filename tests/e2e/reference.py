"""A plain-Python reference of the safety-health aggregates, written independently of udfs/health.py."""
from __future__ import annotations

from collections import defaultdict

import numpy as np

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
        "distinct_items": len({records[i]["item_id"] for i in indices}),
        "distinct_creators": len({records[i]["creator_id"] for i in indices}),
        "top_unsafe_items": [(item, count, score) for item, (count, score) in top],
        "offset_ranges": sorted((p, min(o), max(o)) for p, o in offsets.items()),
    }
