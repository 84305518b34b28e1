"""How good a policy's thresholds are against human labels, per safety category. Pure logic, no pyflink.

Each labelled item's score in a category is flagged when it reaches the category's threshold (as the job
judges); against the reviewer's answer that gives precision (flagged items people found violating) and
recall (violating items flagged). Evaluated for a candidate policy and the active one on the same labels,
it shows what a threshold change buys before it is enforced.

>>> outcomes = [("spam", 0.9, True), ("spam", 0.6, False), ("spam", 0.3, True), ("spam", 0.1, False)]
>>> quality = evaluate(outcomes, {"spam": 0.5})["spam"]
>>> (quality.true_positives, quality.false_positives, quality.false_negatives, quality.precision, quality.recall)
(1, 1, 1, 0.5, 0.5)
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ThresholdQuality:
    category: str
    threshold: float
    labelled: int
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def violating(self) -> int:
        return self.true_positives + self.false_negatives

    @property
    def flagged(self) -> int:
        return self.true_positives + self.false_positives

    @property
    def precision(self) -> float | None:
        return self.true_positives / self.flagged if self.flagged else None

    @property
    def recall(self) -> float | None:
        return self.true_positives / self.violating if self.violating else None


def evaluate(outcomes: Iterable[tuple[str, float, bool]], thresholds: Mapping[str, float]
             ) -> dict[str, ThresholdQuality]:
    """Per category with a threshold: (category, score, violating) outcomes judged at that threshold."""
    counts = {category: [0, 0, 0, 0] for category in thresholds}  # labelled, tp, fp, fn
    for category, score, violating in outcomes:
        tally = counts.get(category)
        if tally is None:
            continue
        flagged = score >= thresholds[category]
        tally[0] += 1
        tally[1] += flagged and violating
        tally[2] += flagged and not violating
        tally[3] += violating and not flagged
    return {category: ThresholdQuality(category, thresholds[category], *tally) for category, tally in counts.items()}
