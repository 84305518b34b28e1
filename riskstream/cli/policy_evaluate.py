"""A policy's thresholds against human labels, beside the active policy's: `riskstream policy evaluate FILE`,
and the labels part of `policy shadow-report` (udfs/threshold_eval.py on the job's `label_outcomes`)."""
from __future__ import annotations

import json

from riskstream.cli.label_rows import LabelRange, scored_outcomes
from riskstream.cli.tables import format_table
from udfs.policy import Policy
from udfs.threshold_eval import ThresholdQuality, evaluate


def compare(client, labels: LabelRange, candidate: Policy, active: Policy | None
            ) -> list[tuple[ThresholdQuality, ThresholdQuality | None]]:
    """Per category of the candidate: its quality and the active policy's, on the same labelled items."""
    outcomes = scored_outcomes(client, labels)
    mine = evaluate(outcomes, candidate.thresholds)
    theirs = evaluate(outcomes, active.thresholds) if active is not None else {}
    return [(mine[category], theirs.get(category)) for category in sorted(mine)]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _arrow(before, after, form) -> str:
    return form(after) if before is None else f"{form(before)} -> {form(after)}"


def render(rows: list[tuple[ThresholdQuality, ThresholdQuality | None]], candidate: str, active: str | None) -> str:
    labelled = max((q.labelled for q, _ in rows), default=0)
    lines = [f"{candidate} against human labels ({labelled} labelled items scored)"
             + (f", beside the active {active}" if active else "")]
    header = ["category", "threshold", "precision", "recall", "flagged", "violating"]
    table = [
        (q.category, _arrow(a and a.threshold, q.threshold, str), _arrow(a and a.precision, q.precision, _pct),
         _arrow(a and a.recall, q.recall, _pct), _arrow(a and a.flagged, q.flagged, str), str(q.violating))
        for q, a in rows]
    lines.append(format_table(header, table))
    if active:
        lines.append("active -> candidate; precision: flagged items people found violating; recall: violating "
                     "items flagged")
    return "\n".join(lines)


def as_json(rows: list[tuple[ThresholdQuality, ThresholdQuality | None]]) -> list[str]:
    def fields(q: ThresholdQuality | None) -> dict | None:
        if q is None:
            return None
        return {"threshold": q.threshold, "labelled": q.labelled, "true_positives": q.true_positives,
                "false_positives": q.false_positives, "false_negatives": q.false_negatives,
                "precision": q.precision, "recall": q.recall}
    return [json.dumps({"category": q.category, "candidate": fields(q), "active": fields(a)}, sort_keys=True)
            for q, a in rows]
