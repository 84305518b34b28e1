"""Per-item verdicts: allow, demote or block, by the policy in force, for the item-verdicts topic.

An item is blocked when one of its scores reaches its category's block threshold, or when it is unsafe
in a safety category that a kill switch names alone (kill switches naming a surface or region act per
request, in the guard); demoted when it is unsafe (a score at or above its category's threshold) but not blocked;
allowed otherwise. An unscored item gets no verdict: nothing is known of it. The topic is keyed by item
id and compacted, so a verdict is written only when it changes (action, policy or model), remembered
for a bounded number of items (least recently seen forgotten first, then written again when seen).
Pure logic, no pyflink.

>>> from udfs.policy import KillSwitch, Policy
>>> policy = Policy("p1", {"spam": 0.5, "hate": 0.5}, block_thresholds={"spam": 0.9})
>>> [judge(s, ("spam", "hate"), "news", policy)[0] for s in ([0.95, 0.1], [0.6, 0.1], [0.1, 0.2])]
['block', 'demote', 'allow']
>>> killing = Policy("p2", {"spam": 0.5, "hate": 0.5}, kill_switches=(KillSwitch(category="hate"),))
>>> judge([0.1, 0.6], ("spam", "hate"), "news", killing)[:2]
('block', 'kill switch: category hate 0.600 >= threshold 0.5')
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

from cachetools import LRUCache

from udfs.policy import Policy

ACTIONS = ("allow", "demote", "block")


@dataclass(frozen=True, slots=True)
class Verdict:
    """One record of the item-verdicts topic (`schemas/verdict/`); field names are the schema's."""

    item_id: str
    action: str
    reason: str
    top_category: str
    top_score: float
    unsafe_categories: list[str]
    item_category: str
    policy_version: str
    model_name: str
    model_version: str
    event_time: int
    source_partition: int
    source_offset: int
    job_id: str
    scores: dict[str, float] = field(default_factory=dict)  # per safety category (schema v2)
    creator_cohort: str = "unknown"  # schema v2
    creator_id: str = ""  # schema v3: `riskstream forget --creator` finds a creator's items by it


def to_record(verdict: Verdict) -> dict:
    """The verdict as a record of `schemas/verdict/`."""
    return {f.name: getattr(verdict, f.name) for f in fields(Verdict)}


def judge(scores, categories: tuple[str, ...], item_category: str, policy: Policy
          ) -> tuple[str, str, str, float, list[str]]:
    """(action, reason, top category, top score, unsafe categories) of one scored item under `policy`."""
    top = max(range(len(categories)), key=lambda i: scores[i])
    top_category, top_score = categories[top], float(scores[top])
    unsafe = policy.unsafe_categories(categories, scores)
    for switch in policy.kill_switches:
        if switch.category in unsafe and switch.surface is None and switch.region is None:
            score = float(scores[categories.index(switch.category)])
            return ("block", f"kill switch: category {switch.category} {score:.3f} >= threshold "
                             f"{policy.thresholds[switch.category]}", top_category, top_score, unsafe)
    blocking = [(c, float(s)) for c, s in zip(categories, scores)
                if c in policy.block_thresholds and s >= policy.block_thresholds[c]]
    if blocking:
        category, score = max(blocking, key=lambda cs: cs[1])
        return ("block", f"{category} {score:.3f} >= block threshold {policy.block_thresholds[category]}",
                top_category, top_score, unsafe)
    if unsafe:
        category = max(unsafe, key=lambda c: scores[categories.index(c)])
        score = float(scores[categories.index(category)])
        return ("demote", f"{category} {score:.3f} >= threshold {policy.thresholds[category]}", top_category,
                top_score, unsafe)
    return "allow", "every score below its threshold", top_category, top_score, unsafe


class VerdictMemo:
    """The last verdict written per item (action, policy version, model version), for `max_items` items."""

    def __init__(self, max_items: int):
        self._last = LRUCache(max_items) if max_items > 0 else None

    def changed(self, verdict: Verdict) -> bool:
        """Whether `verdict` differs from the last one written for its item (and remember it if so)."""
        if self._last is None:
            return True
        state = (verdict.action, verdict.policy_version, verdict.model_version)
        if self._last.get(verdict.item_id) == state:
            return False
        self._last[verdict.item_id] = state
        return True
