"""Event-time windows of one slice: assignment, firing, lateness and purge, as pure decisions.

Tumbling windows of `size_ms`, plus a sliding view of `slide_view_ms` that advances every `size_ms` and
is merged from the tumbling windows it spans. A window's rows are due once the watermark reaches their
end - 1; a record for a window whose rows were written but that is within the allowed lateness makes
them due again (a higher revision replaces the row); a record later than that is late and counted apart.
A window's state is purged once no record can reach it any more.

Every decision is taken from what the state holds (each window's start and the latest row end written
with it), never from which timer fired: the Flink adapter registers timers only to be called back, and
a call at any time does exactly what is due at that watermark. The one thing besides that the adapter
keeps is the highest watermark a timer saw, so that lateness survives a restore (see `is_late`).

>>> spec = WindowSpec(size_ms=60_000, slide_view_ms=180_000, allowed_lateness_ms=60_000)
>>> spec.start_of(125_000), spec.row_ends(120_000)
(120000, [180000, 240000, 300000])
>>> due_rows(spec, {0: 0, 60_000: 0}, watermark=119_999)
[Row(end=60000, size=60000), Row(end=60000, size=180000), Row(end=120000, size=60000), Row(end=120000, size=180000)]
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from riskstream.core.errors import ConfigError

MAX_ALLOWED_LATENESS_MS = 24 * 3600 * 1000  # beyond this, a slice's state grows with the backlog


@dataclass(frozen=True)
class WindowSpec:
    """Tumbling windows of `size_ms`, a sliding view of `slide_view_ms` every `size_ms`, and allowed lateness."""

    size_ms: int = 60_000
    slide_view_ms: int = 300_000
    allowed_lateness_ms: int = 60_000

    def __post_init__(self) -> None:
        if self.size_ms <= 0:
            raise ConfigError(f"window size must be positive, got {self.size_ms} ms")
        if self.slide_view_ms < self.size_ms or self.slide_view_ms % self.size_ms:
            raise ConfigError(f"the sliding view ({self.slide_view_ms} ms) must be a multiple of the window "
                              f"size ({self.size_ms} ms)")
        if self.allowed_lateness_ms < 0 or self.allowed_lateness_ms % self.size_ms:
            raise ConfigError(f"the allowed lateness ({self.allowed_lateness_ms} ms) must be a non-negative "
                              f"multiple of the window size ({self.size_ms} ms)")
        if self.allowed_lateness_ms > MAX_ALLOWED_LATENESS_MS:
            raise ConfigError(f"an allowed lateness of {self.allowed_lateness_ms} ms keeps every window's state "
                              f"for that long, so state would grow with the backlog; at most "
                              f"{MAX_ALLOWED_LATENESS_MS} ms")

    @property
    def views(self) -> int:
        """How many tumbling windows one sliding window spans."""
        return self.slide_view_ms // self.size_ms

    def start_of(self, event_ms: int) -> int:
        return event_ms - event_ms % self.size_ms

    def row_ends(self, start: int) -> list[int]:
        """The ends of every row (tumbling and sliding) the window starting at `start` is part of."""
        return [start + self.size_ms * (k + 1) for k in range(self.views)]

    def is_late(self, start: int, watermark: int, high_watermark: int | None = None) -> bool:
        """A record for this window can no longer update it.

        `high_watermark` is the highest watermark the slice's timers have seen, kept in state: after a
        restore the watermark starts low again, and without it a record for a window already written and
        purged would open that window afresh and overwrite its row with a partial count."""
        highest = watermark if high_watermark is None else max(watermark, high_watermark)
        return start + self.size_ms + self.allowed_lateness_ms <= highest

    def purge_time(self, start: int) -> int:
        """The watermark from which no record can reach the window, nor a sliding row it is part of."""
        return start + self.slide_view_ms + self.allowed_lateness_ms

    def timers(self, start: int) -> list[int]:
        """When the adapter must be called back for a new window: each row's end - 1, and its purge time."""
        return [end - 1 for end in self.row_ends(start)] + [self.purge_time(start)]


@dataclass(frozen=True)
class Row:
    """One row to write: the window of `size` ms that ends at `end`."""

    end: int
    size: int

    @property
    def start(self) -> int:
        return self.end - self.size


def due_rows(spec: WindowSpec, emitted_through: Mapping[int, int], watermark: int) -> list[Row]:
    """Rows due at `watermark`: those whose end - 1 it has reached and that hold a window not yet written
    with them. `emitted_through` maps each window start in state to the latest row end written with it."""
    ends = sorted({end for start, through in emitted_through.items() for end in spec.row_ends(start)
                   if through < end <= watermark + 1})
    rows = []
    for end in ends:
        tumbling = end - spec.size_ms
        if tumbling in emitted_through and emitted_through[tumbling] < end:
            rows.append(Row(end, spec.size_ms))
        rows.append(Row(end, spec.slide_view_ms))  # a window in state that it holds is not written with it yet
    return _unique(rows)


def rows_to_rewrite(spec: WindowSpec, start: int, emitted_through: int) -> list[Row]:
    """After a record updated window `start` whose rows were already written up to `emitted_through`:
    every written row that holds it (its tumbling row, and each sliding row up to that end).

    Writing these must not move any window's `emitted_through`: a neighbour merged into a rewritten
    sliding row may not have had its own earlier rows written yet; only rows fired by `due_rows`, in
    watermark order, move it."""
    if emitted_through < start + spec.size_ms:
        return []
    rows = [Row(start + spec.size_ms, spec.size_ms)]
    rows += [Row(end, spec.slide_view_ms) for end in spec.row_ends(start) if end <= emitted_through]
    return _unique(rows)


def purgeable(spec: WindowSpec, starts, watermark: int) -> list[int]:
    """Window starts whose state no record and no row can need any more."""
    return [start for start in starts if spec.purge_time(start) <= watermark]


def members(spec: WindowSpec, row: Row) -> list[int]:
    """The tumbling window starts a row merges."""
    return list(range(row.start, row.end, spec.size_ms))


def _unique(rows: list[Row]) -> list[Row]:
    """In order, without the sliding duplicate of a tumbling row when both are one window long."""
    seen, result = set(), []
    for row in rows:
        if row not in seen:
            seen.add(row)
            result.append(row)
    return result
