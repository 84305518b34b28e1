"""Window assignment, firing, lateness and purge, against a brute-force reference over random streams."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from riskstream.core.errors import ConfigError
from udfs.windows import Row, WindowSpec, due_rows, members, purgeable, rows_to_rewrite

END_OF_TIME = 2 ** 63 - 1


def simulate(spec: WindowSpec, events: list[tuple[str, int]], final: bool = True):
    """Drive the pure decisions as the Flink adapter does: records at the current watermark, timers at
    watermark advances, a restore (the watermark starts low again; state and the timers' highest
    watermark are kept), then (with `final`) the end of input. Returns (rows written, last write wins),
    late records, and the window starts left in state."""
    state: dict[int, list[int]] = {}  # start -> [count, emitted_through]
    written: dict[Row, int] = {}
    late: list[int] = []
    watermark = high = -(2 ** 62)

    def write(rows, fired: bool):
        for row in rows:
            inside = [s for s in members(spec, row) if s in state]
            if not inside:
                continue
            written[row] = sum(state[s][0] for s in inside)
            if fired:  # as the adapter does: only rows fired in watermark order move emitted_through
                for s in inside:
                    state[s][1] = max(state[s][1], row.end)

    def advance(to: int):
        nonlocal high
        high = max(high, to)
        write(due_rows(spec, {s: v[1] for s, v in state.items()}, to), fired=True)
        for start in purgeable(spec, list(state), to):
            del state[start]

    for kind, value in events:
        if kind == "restore":
            watermark = -(2 ** 62)
            continue
        if kind == "watermark":
            if value > watermark:
                watermark = value
                advance(watermark)
            continue
        start = spec.start_of(value)
        if spec.is_late(start, watermark, high):
            late.append(value)
            continue
        entry = state.setdefault(start, [0, 0])
        entry[0] += 1
        write(rows_to_rewrite(spec, start, entry[1]), fired=False)
    if final:
        advance(END_OF_TIME)
    return written, late, state


def reference(size: int, slide: int, lateness: int, events: list[tuple[str, int]]):
    """Brute force, sharing nothing with udfs.windows: which records are late, and every row's final count."""
    watermark, kept, late = -(2 ** 62), [], []
    for kind, value in events:
        if kind == "watermark":
            watermark = max(watermark, value)
        elif kind == "restore":
            continue  # a restore must change nothing
        elif (value - value % size) + size + lateness <= watermark:
            late.append(value)
        else:
            kept.append(value)
    rows = {}
    for t in kept:
        start = t - t % size
        for length in (size, slide):
            for end in range(start + size, start + length + 1, size):
                rows[Row(end, length)] = sum(1 for u in kept if end - length <= u < end)
    return rows, late


@st.composite
def streams(draw):
    size = draw(st.sampled_from([1_000, 60_000]))
    slide = size * draw(st.integers(1, 5))
    lateness = size * draw(st.integers(0, 3))
    base = draw(st.integers(0, 10)) * size
    events, watermark = [], base
    for _ in range(draw(st.integers(0, 60))):
        if draw(st.integers(0, 9)) == 0:
            events.append(("restore", 0))
        elif draw(st.booleans()):
            # out of order, late and very late records around the watermark
            events.append(("record", max(0, watermark + draw(st.integers(-6 * size, 3 * size)))))
        else:
            watermark += draw(st.integers(0, 2 * size))
            events.append(("watermark", watermark))
    return size, slide, lateness, events


@settings(max_examples=400, deadline=None)
@given(streams())
def test_rows_and_late_records_equal_the_brute_force_reference(stream):
    size, slide, lateness, events = stream
    written, late, left = simulate(WindowSpec(size, slide, lateness), events)
    expected, expected_late = reference(size, slide, lateness, events)
    assert sorted(late) == sorted(expected_late)
    assert written == expected
    assert left == {}  # every window's state is purged once the watermark has passed it


@settings(max_examples=200, deadline=None)
@given(streams())
def test_state_is_bounded_by_the_open_windows_not_by_the_stream(stream):
    size, slide, lateness, events = stream
    _, _, left = simulate(WindowSpec(size, slide, lateness), events, final=False)
    watermark = max([v for k, v in events if k == "watermark"], default=None)
    if watermark is None:
        return
    # Every window still held can take a record or is part of a row that can still change ...
    assert all(start + slide + lateness > watermark for start in left)
    # ... so, with records at most 3 windows ahead of the watermark (the strategy's bound), state holds at
    # most the windows of one sliding view and the lateness behind it, plus those ahead: never the stream.
    assert len(left) <= (slide + lateness) // size + 4


def test_a_tumbling_only_view_writes_each_row_once():
    spec = WindowSpec(1_000, 1_000, 0)
    assert due_rows(spec, {0: 0}, 999) == [Row(1_000, 1_000)]


def test_timers_call_back_at_every_row_end_and_at_the_purge_time():
    assert WindowSpec(60_000, 180_000, 60_000).timers(0) == [59_999, 119_999, 179_999, 240_000]


@pytest.mark.parametrize("size, slide, lateness, message", [
    (0, 60_000, 0, "positive"),
    (60_000, 90_000, 0, "multiple of the window size"),
    (60_000, 30_000, 0, "multiple of the window size"),
    (60_000, 60_000, -60_000, "non-negative"),
    (60_000, 60_000, 30_000, "non-negative multiple"),
    (60_000, 60_000, 2 * 24 * 3600 * 1000, "grow with the backlog"),
])
def test_a_spec_that_cannot_work_or_never_purges_is_refused(size, slide, lateness, message):
    with pytest.raises(ConfigError, match=message):
        WindowSpec(size, slide, lateness)
