"""Per-slice circuit breakers on the unsafe rate, in event time. Pure logic, no pyflink.

A breaker watches one slice (surface x region x recommender model version) through its closed 1-minute
windows, in window order, and moves:

    closed --(recent rate > trip rate, enough sample, significantly above the slice's baseline)--> open
    open --(cool-down elapsed)--> half_open
    half_open --(the rate over the last probe period at or under the close rate)--> closed
    half_open --(the probe so far trips the same test as a closed breaker)--> open

A policy can force a slice's breaker open or closed (`breaker_overrides`): from the first window the
overriding policy judges, the breaker moves there and stays, whatever the rates; when a later policy
lifts the override, a forced-open breaker probes (half-open) and a forced-closed one resumes as closed.
Windows seen while forced never become the baseline.

"Recent" is the last `window_minutes` windows; the baseline is everything the slice showed while its
breaker was closed before them. The test is a one-sided z-test of the recent proportion against the
baseline's, which accounts for how little either may hold (pooled two-proportion test): no trip on 3
impressions, nor on a slice whose usual rate is high, nor on a small slice's noise. The default z of 4
(one-sided p about 3e-5) keeps a fleet of slices evaluated every minute from tripping by chance. A slice whose baseline
holds fewer than `min_sample` impressions cannot trip yet (it has no normal to compare with); its
breaker state is checkpointed, so a restart does not start that over. Every decision depends only on the windows' counts and times, never on a clock, so a
replay of the same input gives the same transitions.

>>> params = BreakerParams(window_minutes=2, min_sample=20, cooldown_minutes=2, probe_minutes=2)
>>> breaker, moves = Breaker(), []
>>> for minute, (scored, unsafe) in enumerate([(100, 2)] * 5 + [(100, 40)] * 2 + [(100, 1)] * 6):
...     moves += [(t.window_start // 60_000, t.to_state) for t in breaker.observe(minute * 60_000, scored, unsafe, params)]
>>> moves
[(5, 'open'), (7, 'half_open'), (9, 'closed')]
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

MINUTE_MS = 60_000
STATES = ("closed", "open", "half_open")
BREAKER_DIMENSIONS = ("surface", "region", "recommender_model_version")
# A transition's row in ClickHouse (schemas/clickhouse/006_breaker_transitions.sql).
TRANSITION_COLUMNS = ("window_start", "window_end", *BREAKER_DIMENSIONS, "from_state", "to_state", "scored",
                      "unsafe", "rate", "baseline_rate", "z", "reason", "policy_version", "job_id")


@dataclass(frozen=True)
class BreakerParams:
    """When a breaker trips and closes (from the policy in force)."""

    # The defaults suit the default policy on the default model, whose thresholds flag about 10% of
    # ordinary traffic: a policy with other thresholds states its own.
    trip_rate: float = 0.20  # recent unsafe rate above which it may trip
    close_rate: float = 0.15  # rate a half-open breaker must get back to or under (hysteresis: below trip_rate)
    min_sample: int = 50  # scored impressions the recent windows must hold to decide anything
    z_threshold: float = 4.0  # one-sided two-proportion z of the recent rate against the baseline's
    window_minutes: int = 3  # the recent windows
    cooldown_minutes: int = 5  # open this long (event time) before probing
    probe_minutes: int = 3  # half-open this long under the close rate before closing

    def __post_init__(self) -> None:
        if not 0 < self.close_rate < self.trip_rate < 1:
            raise ValueError(f"breaker: need 0 < close_rate < trip_rate < 1, got {self.close_rate}, {self.trip_rate}")
        if min(self.min_sample, self.window_minutes, self.cooldown_minutes, self.probe_minutes) < 1:
            raise ValueError("breaker: min_sample and the window, cool-down and probe minutes must be >= 1")


@dataclass(frozen=True)
class Transition:
    """A move of one breaker, with the evidence it was decided on."""

    window_start: int  # the window whose close decided it (event time, epoch ms)
    from_state: str
    to_state: str
    scored: int  # over the recent windows (the probe period for half_open -> closed)
    unsafe: int
    rate: float
    baseline_rate: float
    z: float
    reason: str


@dataclass
class Breaker:
    """One slice's breaker: its state, since when (event time), its recent windows and its baseline."""

    state: str = "closed"
    since_ms: int = 0
    recent: deque = field(default_factory=deque)  # (window start, scored, unsafe, normal), newest last
    baseline_scored: int = 0
    baseline_unsafe: int = 0
    probe: deque = field(default_factory=deque)  # (scored, unsafe) of the windows since half-open, newest last
    last_window: int | None = None
    forced: str | None = None  # "open" or "closed" while a policy overrides the breaker

    def baseline_rate(self) -> float:
        return self.baseline_unsafe / self.baseline_scored if self.baseline_scored else 0.0

    def observe(self, window_start: int, scored: int, unsafe: int, params: BreakerParams,
                forced: str | None = None, forced_by: str = "") -> list[Transition]:
        """Take one closed window of the slice (in window order; a window seen before is ignored), under
        the override of the policy judging it, if any (`forced`: "open" or "closed"; `forced_by` says who)."""
        if self.last_window is not None and window_start <= self.last_window:
            return []
        self.last_window = window_start
        if forced != self.forced or self.forced is not None:
            moves = self._override(window_start, forced, forced_by) if forced != self.forced else []
            self._remember(window_start, scored, unsafe, False, params)
            return moves
        self._remember(window_start, scored, unsafe, self.state == "closed", params)
        end = window_start + MINUTE_MS
        moves = []
        if self.state == "open" and end - self.since_ms >= params.cooldown_minutes * MINUTE_MS:
            moves.append(self._move("half_open", window_start, 0, 0, "cool-down over: probing"))
            self.probe.clear()
            return moves  # the probe starts with the next window
        n = sum(window[1] for window in self.recent)
        k = sum(window[2] for window in self.recent)
        if self.state == "closed":
            rate, base = (k / n if n else 0.0), self.baseline_rate()
            z = self._z(k, n)
            if (self.baseline_scored >= params.min_sample and n >= params.min_sample and rate > params.trip_rate
                    and z >= params.z_threshold):
                moves.append(self._move("open", window_start, n, k,
                                        f"rate {rate:.3f} > trip {params.trip_rate} over {n} impressions, "
                                        f"z {z:.1f} >= {params.z_threshold} against baseline {base:.3f}"))
        elif self.state == "half_open":
            self.probe.append((scored, unsafe))
            while len(self.probe) > params.probe_minutes:
                self.probe.popleft()
            pn, pk = sum(s for s, _ in self.probe), sum(u for _, u in self.probe)
            z = self._z(pk, pn)
            if pn >= params.min_sample and pk > params.trip_rate * pn and z >= params.z_threshold:
                moves.append(self._move("open", window_start, pn, pk,
                                        f"probe rate {pk / pn:.3f} > trip {params.trip_rate} over {pn} impressions, "
                                        f"z {z:.1f} >= {params.z_threshold}"))
            elif len(self.probe) == params.probe_minutes:
                if pn >= params.min_sample and pk <= params.close_rate * pn:
                    moves.append(self._move("closed", window_start, pn, pk,
                                            f"rate {pk / pn:.3f} over the last {params.probe_minutes} windows at or "
                                            f"under close {params.close_rate} ({pk} of {pn})"))
        return moves

    def _remember(self, window_start: int, scored: int, unsafe: int, normal: bool, params: BreakerParams) -> None:
        """Keep the window among the recent ones; one leaving them joins the baseline if the breaker was
        closed and not forced both when it was seen and now (a trip's evidence never becomes normal)."""
        self.recent.append((window_start, scored, unsafe, normal))
        while len(self.recent) > params.window_minutes:
            old = self.recent.popleft()
            was_normal = old[3] if len(old) > 3 else True  # windows kept before overrides existed
            if was_normal and self.state == "closed" and self.forced is None:
                self.baseline_scored += old[1]
                self.baseline_unsafe += old[2]

    def _override(self, window_start: int, forced: str | None, forced_by: str) -> list[Transition]:
        lifted, self.forced = self.forced, forced
        if forced is not None:
            if self.state == forced:
                return []
            return [self._move(forced, window_start, 0, 0, f"forced {forced} by {forced_by}")]
        if lifted == "open":
            self.probe.clear()
            return [self._move("half_open", window_start, 0, 0, f"override lifted by {forced_by}: probing")]
        return []

    def _z(self, k: int, n: int) -> float:
        return two_proportion_z(k, n, self.baseline_unsafe, self.baseline_scored)

    def _move(self, to_state: str, window_start: int, n: int, k: int, reason: str) -> Transition:
        base = self.baseline_rate()
        rate = k / n if n else 0.0
        transition = Transition(window_start, self.state, to_state, n, k, rate, base, self._z(k, n), reason)
        self.state, self.since_ms = to_state, window_start + MINUTE_MS
        return transition


def two_proportion_z(k1: int, n1: int, k0: int, n0: int) -> float:
    """One-sided pooled z of proportion k1/n1 against k0/n0 (0 when either is empty or nothing varies)."""
    if not n1 or not n0:
        return 0.0
    pooled = (k1 + k0) / (n1 + n0)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    return (k1 / n1 - k0 / n0) / spread if spread else 0.0
