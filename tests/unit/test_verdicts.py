from dataclasses import replace

import pytest

from udfs.policy import KillSwitch, Policy
from udfs.verdicts import Verdict, VerdictMemo, judge

CATEGORIES = ("spam", "hate", "violence")
POLICY = Policy("p1", {"spam": 0.5, "hate": 0.4, "violence": 0.6}, block_thresholds={"spam": 0.9, "hate": 0.8})


@pytest.mark.parametrize("scores, action, reason", [
    ([0.95, 0.85, 0.1], "block", "spam 0.950 >= block threshold 0.9"),       # the higher of two blocking scores
    ([0.3, 0.85, 0.7], "block", "hate 0.850 >= block threshold 0.8"),
    ([0.3, 0.1, 0.99], "demote", "violence 0.990 >= threshold 0.6"),         # no block threshold for violence
    ([0.55, 0.45, 0.1], "demote", "spam 0.550 >= threshold 0.5"),
    ([0.49, 0.39, 0.59], "allow", "every score below its threshold"),
])
def test_the_strongest_action_wins_with_the_score_that_decided(scores, action, reason):
    got = judge(scores, CATEGORIES, "news", POLICY)
    assert got[:2] == (action, reason)
    assert got[2:4] == (CATEGORIES[scores.index(max(scores))], max(scores))
    assert got[4] == [c for c, s in zip(CATEGORIES, scores) if s >= POLICY.thresholds[c]]


def test_a_kill_switch_naming_a_category_alone_blocks_what_is_unsafe_in_it_and_one_naming_a_slice_does_not():
    switches = (KillSwitch(category="violence"), KillSwitch(surface="shorts", category="spam"))
    policy = replace(POLICY, kill_switches=switches)
    assert judge([0.1, 0.1, 0.7], CATEGORIES, "news", policy)[:2] == \
        ("block", "kill switch: category violence 0.700 >= threshold 0.6")
    assert judge([0.1, 0.1, 0.59], CATEGORIES, "news", policy)[0] == "allow"  # not unsafe in it: not killed
    assert judge([0.6, 0.1, 0.1], CATEGORIES, "news", policy)[0] == "demote"  # the guard acts per request there


def _verdict(item: str, action: str = "allow", policy: str = "p1", model: str = "1") -> Verdict:
    return Verdict(item, action, "", "spam", 0.1, [], "news", policy, "safety_text", model, 0, 0, 0, "job")


def test_a_verdict_is_written_again_only_when_its_action_policy_or_model_changes():
    memo = VerdictMemo(max_items=10)
    assert memo.changed(_verdict("a"))
    assert not memo.changed(replace(_verdict("a"), event_time=5, source_offset=9))
    assert memo.changed(_verdict("a", action="demote"))
    assert memo.changed(_verdict("a", action="demote", policy="p2"))
    assert memo.changed(_verdict("a", action="demote", policy="p2", model="2"))
    assert not memo.changed(_verdict("a", action="demote", policy="p2", model="2"))


def test_the_memo_forgets_the_least_recently_seen_item_first_and_zero_remembers_nothing():
    memo = VerdictMemo(max_items=2)
    for item in ("a", "b", "a", "c"):  # b is the least recently seen when c arrives
        memo.changed(_verdict(item))
    assert not memo.changed(_verdict("a")) and memo.changed(_verdict("b"))
    nothing = VerdictMemo(max_items=0)
    assert nothing.changed(_verdict("a")) and nothing.changed(_verdict("a"))
