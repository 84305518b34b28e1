"""Shadow evaluation: what a shadow policy would judge on the same scored impressions as the policy in force.

A shadow never acts: per window and slice it only counts, beside the active judgement, the impressions
it would call unsafe and those that would flip (safe -> unsafe, unsafe -> safe), with the items that
flip most. Pure logic, no pyflink.

>>> tally = ShadowTally(active_versions=["v1"])
>>> tally.add("i1", active_unsafe=False, shadow_unsafe=True)
>>> tally.add("i2", active_unsafe=True, shadow_unsafe=True)
>>> (tally.scored, tally.unsafe_active, tally.unsafe_shadow, tally.to_unsafe, tally.to_safe, tally.top_flipped())
(2, 1, 2, 1, 0, [('i1', 1)])
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass, field

TOP_FLIPPED_ITEMS = 10
SHADOW_COLUMNS = (
    "window_start", "window_end", "window_seconds", "surface", "region", "recommender_model_version",
    "item_category", "shadow_policy_version", "active_policy_version", "scored", "unsafe_active", "unsafe_shadow",
    "to_unsafe", "to_safe", "flipped_items", "job_id", "model_version", "revision",
)


@dataclass
class ShadowTally:
    """One shadow policy's judgement of one window and slice's scored impressions, beside the active one's."""

    scored: int = 0
    unsafe_active: int = 0
    unsafe_shadow: int = 0
    to_unsafe: int = 0
    to_safe: int = 0
    flipped: dict[str, int] = field(default_factory=dict)  # item id -> impressions that would flip
    active_versions: list[str] = field(default_factory=list)

    def add(self, item_id: str, active_unsafe: bool, shadow_unsafe: bool) -> None:
        self.scored += 1
        self.unsafe_active += active_unsafe
        self.unsafe_shadow += shadow_unsafe
        if active_unsafe != shadow_unsafe:
            if shadow_unsafe:
                self.to_unsafe += 1
            else:
                self.to_safe += 1
            self.flipped[item_id] = self.flipped.get(item_id, 0) + 1

    def merge(self, other: "ShadowTally") -> None:
        self.scored += other.scored
        self.unsafe_active += other.unsafe_active
        self.unsafe_shadow += other.unsafe_shadow
        self.to_unsafe += other.to_unsafe
        self.to_safe += other.to_safe
        for item, count in other.flipped.items():
            self.flipped[item] = self.flipped.get(item, 0) + count
        for version in other.active_versions:
            if version not in self.active_versions:
                self.active_versions.append(version)

    def top_flipped(self) -> list[tuple[str, int]]:
        """The items with the most flipped impressions (ties by item id), at most TOP_FLIPPED_ITEMS."""
        return heapq.nsmallest(TOP_FLIPPED_ITEMS, self.flipped.items(), key=lambda kv: (-kv[1], kv[0]))


def shadow_row(window_start: int, window_ms: int, dims: tuple[str, ...], shadow_version: str, tally: ShadowTally,
               job_id: str, model_version: str) -> list:
    """One shadow_health row; `revision` (the impressions judged) lets a fuller re-emission win."""
    values = {
        "window_start": window_start, "window_end": window_start + window_ms, "window_seconds": window_ms // 1000,
        **dict(zip(("surface", "region", "recommender_model_version", "item_category"), dims)),
        "shadow_policy_version": shadow_version, "active_policy_version": ",".join(tally.active_versions),
        "scored": tally.scored, "unsafe_active": tally.unsafe_active, "unsafe_shadow": tally.unsafe_shadow,
        "to_unsafe": tally.to_unsafe, "to_safe": tally.to_safe, "flipped_items": tally.top_flipped(),
        "job_id": job_id, "model_version": model_version, "revision": tally.scored,
    }
    return [values[column] for column in SHADOW_COLUMNS]
