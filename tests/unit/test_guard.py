"""The guard's decisions, for every breaker state, verdict, kill switch and fail mode (pure logic)."""
from __future__ import annotations

import pytest

from riskstream.core.errors import ConfigError
from riskstream.core.guard_config import GuardSettings, parse_fail_modes
from udfs.guard import GuardView, Request, decide
from udfs.policy import KillSwitch, Policy

# The table as the README states it, written out here (not read from the module under test).
EXPECTED = {
    "closed": {"allow": "serve", "demote": "demote", "block": "drop", None: "serve"},
    "half_open": {"allow": "serve", "demote": "drop", "block": "drop", None: "demote"},
    "open": {"allow": "serve", "demote": "drop", "block": "drop", None: "drop"},
}
ITEMS = ("i-allow", "i-demote", "i-block", "i-unknown")


def _verdict(item: str, action: str, unsafe=()) -> dict:
    return {"item_id": item, "action": action, "reason": f"{action} because", "unsafe_categories": list(unsafe),
            "policy_version": "p1", "model_version": "7"}


def _breaker(state: str, version: str = "r1", surface: str = "shorts", region: str = "br") -> dict:
    return {"surface": surface, "region": region, "recommender_model_version": version, "state": state,
            "window_end": 120_000, "reason": f"went {state}", "policy_version": "p1"}


@pytest.fixture
def view() -> GuardView:
    view = GuardView()
    view.apply_verdict(_verdict("i-allow", "allow"))
    view.apply_verdict(_verdict("i-demote", "demote", ["spam"]))
    view.apply_verdict(_verdict("i-block", "block", ["hate"]))
    return view


def _decisions(view, request, policy=None, stale=False, fail_mode="open") -> dict:
    return {d["item_id"]: d["decision"] for d in decide(view, request, policy, stale, fail_mode).decisions}


@pytest.mark.parametrize("state", ["closed", "half_open", "open"])
def test_every_verdict_in_every_breaker_state(view, state):
    view.apply_breaker(_breaker(state))
    answer = decide(view, Request("shorts", "br", "r1", ITEMS), None, False, "open")
    assert answer.breaker["state"] == state and answer.breaker["since_ms"] == 120_000
    assert {d["rule"] for d in answer.decisions} == {f"breaker_{state}"}
    got = {d["item_id"]: d["decision"] for d in answer.decisions}
    assert got == {"i-allow": EXPECTED[state]["allow"], "i-demote": EXPECTED[state]["demote"],
                   "i-block": EXPECTED[state]["block"], "i-unknown": EXPECTED[state][None]}
    assert [d["item_id"] for d in answer.decisions] == list(ITEMS)  # the recommender's order
    assert [d["verdict"] for d in answer.decisions] == ["allow", "demote", "block", None]
    assert "evidence" not in answer.decisions[0]


def test_explain_carries_the_whole_verdict(view):
    answer = decide(view, Request("shorts", "br", "r1", ITEMS, explain=True), None, False, "open")
    assert answer.decisions[1]["evidence"] == {"action": "demote", "reason": "demote because",
                                               "unsafe_categories": ("spam",), "policy_version": "p1", "model_version": "7"}
    assert answer.decisions[3]["evidence"] is None


def test_the_garbage_collector_stops_tracking_a_views_verdicts():
    """A full collection walks every tracked object: the view's verdicts must not be among them."""
    import gc

    view = GuardView()
    for n in range(1000):
        view.apply_verdict(_verdict(f"i-{n}", "demote", ("spam", "scam")))
    gc.collect()
    assert not any(gc.is_tracked(verdict) or gc.is_tracked(verdict["unsafe_categories"])
                   for verdict in view.verdicts.values())


def test_a_breaker_acts_on_its_own_slice_only(view):
    view.apply_breaker(_breaker("open", version="r1"))
    assert _decisions(view, Request("shorts", "br", "r2", ITEMS))["i-demote"] == "demote"
    assert _decisions(view, Request("shorts", "us", "r1", ITEMS))["i-unknown"] == "serve"
    assert _decisions(view, Request("feed", "br", "r1", ITEMS))["i-unknown"] == "serve"


def test_without_a_recommender_version_the_most_severe_breaker_of_the_surface_and_region_decides(view):
    view.apply_breaker(_breaker("half_open", version="r1"))
    view.apply_breaker(_breaker("closed", version="r2"))
    assert decide(view, Request("shorts", "br", None, ITEMS), None, False, "open").breaker["state"] == "half_open"
    view.apply_breaker(_breaker("open", version="r2"))
    assert decide(view, Request("shorts", "br", None, ITEMS), None, False, "open").breaker["state"] == "open"


def test_the_newest_record_per_key_wins_and_a_tombstone_forgets_the_item(view):
    view.apply_verdict(_verdict("i-block", "allow"))
    view.apply_breaker(_breaker("open"))
    view.apply_breaker(_breaker("half_open"))
    assert _decisions(view, Request("shorts", "br", "r1", ITEMS))["i-block"] == "serve"
    view.forget_verdict("i-block")
    assert _decisions(view, Request("shorts", "br", "r1", ITEMS))["i-block"] == "demote"  # half-open, unknown


def test_kill_switches_for_the_requests_surface_and_region_drop_by_category_or_everything(view):
    by_category = Policy("p9", {"spam": 0.5}, kill_switches=(KillSwitch(surface="shorts", category="spam"),))
    got = decide(view, Request("shorts", "br", "r1", ITEMS), by_category, False, "open")
    assert {d["item_id"]: d["decision"] for d in got.decisions} == {
        "i-allow": "serve", "i-demote": "drop", "i-block": "drop", "i-unknown": "serve"}
    # i-block is unsafe in hate, not spam: its own verdict drops it, not the switch.
    assert [d["rule"] for d in got.decisions] == ["breaker_closed", "kill_switch", "breaker_closed", "breaker_closed"]
    assert got.kill_switches == ["surface shorts, category spam"] and got.policy_version == "p9"
    assert _decisions(view, Request("feed", "br", "r1", ITEMS), by_category)["i-demote"] == "demote"
    whole_slice = Policy("p10", {"spam": 0.5}, kill_switches=(KillSwitch(region="br"),))
    assert set(_decisions(view, Request("feed", "br", "r1", ITEMS), whole_slice).values()) == {"drop"}
    assert _decisions(view, Request("feed", "us", "r1", ITEMS), whole_slice)["i-unknown"] == "serve"


def test_a_stale_view_fails_open_as_if_closed_or_closed_serving_only_known_allowed_items(view):
    view.apply_breaker(_breaker("open"))
    request = Request("shorts", "br", "r1", ITEMS)
    assert _decisions(view, request, stale=True, fail_mode="open") == {
        "i-allow": "serve", "i-demote": "demote", "i-block": "drop", "i-unknown": "serve"}
    assert _decisions(view, request, stale=True, fail_mode="closed") == {
        "i-allow": "serve", "i-demote": "drop", "i-block": "drop", "i-unknown": "drop"}
    answer = decide(view, request, None, True, "closed")
    assert answer.stale and {d["rule"] for d in answer.decisions} == {"stale_fail_closed"}


def test_fail_modes_per_surface_with_a_default():
    settings = GuardSettings(fail_modes=parse_fail_modes("kids=closed, *=open"))
    assert (settings.fail_mode("kids"), settings.fail_mode("shorts")) == ("closed", "open")
    assert parse_fail_modes("") == {"*": "open"}
    assert GuardSettings(fail_modes=parse_fail_modes("*=closed")).fail_mode("any") == "closed"
    with pytest.raises(ConfigError, match="'kids=shut' is not surface=open"):
        parse_fail_modes("kids=shut")
