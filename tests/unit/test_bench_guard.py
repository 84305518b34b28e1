"""bench.guard counts each latency from when its request was due, so a sender that fell behind shows."""
from bench.guard import from_due


def _row(seq: int, began_ns: int, latency_ns: int, status: str = "200") -> list[str]:
    # vegeta's CSV: timestamp, status, latency, bytes out, bytes in, error, body, attack, seq, method, url, headers
    return [str(began_ns), status, str(latency_ns), "100", "0", "", "", "", str(seq), "POST", "http://x", ""]


def test_a_request_sent_late_counts_its_lateness_and_warm_up_is_left_out():
    start = 1_000_000_000_000
    rows = [
        _row(0, start, 1_000_000),                      # due at 0, sent on time, 1 ms
        _row(1, start + 1_000_000, 2_000_000),          # due at 1 ms (rate 1000/s), on time, 2 ms
        _row(3, start + 3_000_000, 500_000, "500"),     # on time, an error
        _row(2, start + 12_000_000, 1_000_000),         # due at 2 ms, began at 12 ms: 10 ms late, answered in 1
    ]
    latencies, lateness, sent, errors = from_due(rows, rate=1000.0, warm_up=1)
    assert sent == 4 and errors == 1
    assert latencies == [2.0, 11.0, 0.5]  # seq 1, 2, 3 (seq 0 warms up)
    assert lateness == [0.0, 10.0, 0.0]


def test_a_request_begun_early_does_not_count_negative_lateness():
    start = 5_000_000_000
    latencies, lateness, _, _ = from_due([_row(0, start, 1_000_000), _row(1, start + 200_000, 1_000_000)],
                                         rate=1000.0, warm_up=0)
    assert lateness == [0.0, 0.0]
    assert latencies == [1.0, 1.0]


def test_no_results():
    assert from_due([], rate=2000.0, warm_up=10) == ([], [], 0, 0)
