import pytest

from udfs.breakers import MINUTE_MS, Breaker, BreakerParams

PARAMS = BreakerParams(trip_rate=0.10, close_rate=0.05, min_sample=50, z_threshold=4.0, window_minutes=3,
                       cooldown_minutes=5, probe_minutes=3)


def run(windows, params=PARAMS):
    """Feed (scored, unsafe) per minute; returns [(minute, from, to)]."""
    breaker, moves = Breaker(), []
    for minute, (scored, unsafe) in enumerate(windows):
        moves += [(t.window_start // MINUTE_MS, t.from_state, t.to_state)
                  for t in breaker.observe(minute * MINUTE_MS, scored, unsafe, params)]
    return moves


def test_three_unsafe_impressions_trip_nothing():
    assert run([(200, 4)] * 10 + [(1, 1)] * 3 + [(200, 4)] * 5) == []


def test_a_slice_whose_usual_rate_is_high_does_not_trip_on_it():
    assert run([(300, 45)] * 30) == []  # 15% every minute: above the trip rate, but its own normal


def test_a_small_slices_noise_against_a_short_baseline_does_not_trip():
    # 70 impressions a minute at 5%, one unlucky 3-minute stretch at 11%: against one quiet minute of
    # baseline that is not evidence.
    assert run([(70, 2), (70, 4), (70, 8), (70, 8), (70, 7), (70, 3)]) == []


def test_a_slice_without_a_baseline_yet_cannot_trip():
    assert run([(300, 90)] * 3) == []  # nothing to compare with in its first minutes


def test_a_spike_trips_then_probes_after_the_cool_down_and_closes_with_hysteresis():
    quiet, spike, between, clean = (300, 6), (300, 90), (300, 21), (300, 3)
    moves = run([quiet] * 10 + [spike] * 4 + [between] * 6 + [clean] * 6)
    # Trips in the first spike minute (its 3-minute rate 0.113 against a 0.02 baseline), half-opens 5
    # minutes after, stays half-open while the rate (0.07) is under the trip rate but over the close
    # rate, and closes once its last 3 minutes hold 0.05 or less (minutes 18-20: 45 of 900).
    assert moves == [(10, "closed", "open"), (15, "open", "half_open"), (20, "half_open", "closed")]


def test_a_bad_probe_window_opens_the_breaker_again():
    moves = run([(300, 6)] * 10 + [(300, 90)] * 10 + [(300, 6)] * 12)
    assert moves[:3] == [(10, "closed", "open"), (15, "open", "half_open"), (16, "half_open", "open")]
    assert moves[-1][2] == "closed"


def test_the_evidence_of_a_trip_is_the_recent_windows_against_the_baseline():
    breaker = Breaker()
    transitions = []
    for minute, (scored, unsafe) in enumerate([(300, 6)] * 10 + [(300, 90)]):
        transitions += breaker.observe(minute * MINUTE_MS, scored, unsafe, PARAMS)
    [trip] = transitions
    assert (trip.scored, trip.unsafe) == (900, 102)
    # Recent: minutes 8-10; baseline: minutes 0-7, which have left the recent windows.
    assert trip.rate == pytest.approx(102 / 900) and trip.baseline_rate == pytest.approx(48 / 2400)
    pooled = (102 + 48) / (900 + 2400)  # the z-test computed here, not by the module
    assert trip.z == pytest.approx((102 / 900 - 48 / 2400) / (pooled * (1 - pooled) * (1 / 900 + 1 / 2400)) ** 0.5)


def test_windows_seen_while_open_never_become_the_baseline():
    breaker = Breaker()
    for minute, (scored, unsafe) in enumerate([(300, 6)] * 10 + [(300, 90)] * 8):
        breaker.observe(minute * MINUTE_MS, scored, unsafe, PARAMS)
    assert breaker.baseline_rate() == pytest.approx(0.02, abs=0.005)


def test_a_replay_gives_the_same_transitions_and_a_window_seen_twice_counts_once():
    windows = [(300, 6)] * 10 + [(300, 90)] * 6 + [(300, 3)] * 12
    first = run(windows)
    breaker, again = Breaker(), []
    for minute, (scored, unsafe) in enumerate(windows):
        for _ in range(2):  # a revision of the same window (late data) does not count again
            again += [(t.window_start // MINUTE_MS, t.from_state, t.to_state)
                      for t in breaker.observe(minute * MINUTE_MS, scored, unsafe, PARAMS)]
    assert first == again and first


@pytest.mark.parametrize("kwargs", [dict(close_rate=0.2, trip_rate=0.1), dict(min_sample=0), dict(probe_minutes=0)])
def test_parameters_without_hysteresis_or_evidence_are_refused(kwargs):
    with pytest.raises(ValueError):
        BreakerParams(**kwargs)


def test_an_override_forces_the_breaker_whatever_the_rates_and_lifting_it_resumes():
    quiet, spike = (300, 6), (300, 90)
    plan = ([(*quiet, None)] * 6 + [(*quiet, "open")] * 3 + [(*quiet, None)] * 4 + [(*spike, "closed")] * 3
            + [(*spike, None)] * 2)
    breaker, moves = Breaker(), []
    for minute, (scored, unsafe, forced) in enumerate(plan):
        moves += [(t.window_start // MINUTE_MS, t.to_state, t.reason)
                  for t in breaker.observe(minute * MINUTE_MS, scored, unsafe, PARAMS, forced, "policy p9 (ana: why)")]
    assert [(minute, state) for minute, state, _ in moves] == [
        (6, "open"),        # forced open on a quiet slice
        (9, "half_open"),   # the override lifted: it probes
        (12, "closed"),     # three quiet probe windows
        (17, "open"),       # forced closed through a spike (13-15), which trips it once lifted (16)
    ]
    assert moves[0][2] == "forced open by policy p9 (ana: why)"
    assert moves[1][2] == "override lifted by policy p9 (ana: why): probing"
    # Nothing seen while forced or probing became the baseline: only minutes 0-2, at 2%.
    assert breaker.baseline_rate() == pytest.approx(0.02)
