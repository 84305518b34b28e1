"""The guard's decisions: which candidates a recommender may serve, demote or drop, and why. Pure logic.

The guard holds the newest record per key of two compacted topics (item-verdicts by item id,
breaker-state by slice) and the policy in force. For a request (a slice and candidate item ids) each
candidate gets a decision from, in order:

1. a kill switch of the policy in force that matches the request's surface and region: a switch naming a
   safety category drops the candidates whose verdict found them unsafe in it; one naming none drops all;
2. a stale view (the guard cannot show it has caught up with the topics lately): the surface's fail mode,
   ``open`` decides as if every breaker were closed, ``closed`` serves only candidates known to be allowed;
3. otherwise the slice's breaker state and the item's verdict, by this table (``-`` = no verdict known):

    =========  ========  =========  ======
    verdict    closed    half_open  open
    =========  ========  =========  ======
    allow      serve     serve      serve
    demote     demote    drop       drop
    block      drop      drop       drop
    -          serve     demote     drop
    =========  ========  =========  ======

An open breaker means the slice's unsafe rate is significantly above its normal: only items known to be
safe are served there. Half-open is probing: unknown items are let through, lowered.

Each decision names its rule (``kill_switch``, ``breaker_closed|half_open|open``, ``stale_fail_open|closed``)
and carries the item's verdict as the job wrote it. Decisions are typed dicts, not objects: the guard
answers thousands of requests of a hundred candidates a second, and a dict is built and serialised
several times faster (bench.guard measures the whole).

>>> view = GuardView()
>>> view.apply_verdict({"item_id": "a", "action": "demote", "reason": "spam 0.7 >= 0.5",
...                     "unsafe_categories": ["spam"], "policy_version": "p1", "model_version": "3"})
>>> view.apply_breaker({"surface": "shorts", "region": "br", "recommender_model_version": "r1",
...                     "state": "open", "window_end": 0, "reason": "trip", "policy_version": "p1"})
>>> request = Request("shorts", "br", "r1", ("a", "b"))
>>> [(d["item_id"], d["decision"], d["rule"]) for d in decide(view, request, None, False, "open").decisions]
[('a', 'drop', 'breaker_open'), ('b', 'drop', 'breaker_open')]
>>> [(d["item_id"], d["decision"]) for d in decide(view, request._replace(region="us"), None, False, "open").decisions]
[('a', 'demote'), ('b', 'serve')]
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, TypedDict

from udfs.policy import KillSwitch, Policy

DECISIONS = ("serve", "demote", "drop")
STATES = ("closed", "half_open", "open")  # least to most severe
NO_VERDICT = "-"

# breaker state -> verdict action (or NO_VERDICT) -> decision: the table in the module's docstring.
RULES = {
    "closed": {"allow": "serve", "demote": "demote", "block": "drop", NO_VERDICT: "serve"},
    "half_open": {"allow": "serve", "demote": "drop", "block": "drop", NO_VERDICT: "demote"},
    "open": {"allow": "serve", "demote": "drop", "block": "drop", NO_VERDICT: "drop"},
}
FAIL_CLOSED = {"allow": "serve", "demote": "drop", "block": "drop", NO_VERDICT: "drop"}


class KnownVerdict(TypedDict):
    """The newest item-verdicts record of one item, as much of it as a decision (and its answer) shows."""

    action: str
    reason: str
    unsafe_categories: tuple[str, ...]  # a tuple: see GuardView
    policy_version: str
    model_version: str


class KnownBreaker(TypedDict):
    """The newest breaker-state record of one slice."""

    state: str
    since_ms: int  # event time from which the state holds
    reason: str
    policy_version: str


class Decision(TypedDict, total=False):
    item_id: str
    decision: str  # serve | demote | drop
    rule: str  # what decided: kill_switch, breaker_<state>, stale_fail_<mode>
    verdict: str | None  # the item's verdict action, None when none is known
    evidence: KnownVerdict | None  # the whole verdict, when the request asks to explain


CLOSED = KnownBreaker(state="closed", since_ms=0, reason="no transition recorded for this slice", policy_version="")


class Request(NamedTuple):
    surface: str
    region: str
    recommender_model_version: str | None  # None: the most severe breaker of the surface and region
    items: tuple[str, ...] | list[str]
    explain: bool = False  # each decision also carries the whole verdict it was decided on


@dataclass(frozen=True, slots=True)
class Answer:
    decisions: list[Decision]
    breaker: KnownBreaker
    policy_version: str  # the policy in force at the guard ("" before any is known)
    kill_switches: list[str]  # the policy's switches that match the request's surface and region
    stale: bool
    fail_mode: str


class GuardView:
    """Newest verdict per item and breaker per slice. Records are applied by one thread while others read:
    each apply replaces one dict entry, which readers see whole.

    A verdict holds only strings and a tuple of strings, so CPython's garbage collector stops tracking it
    after its first collections: a view of 100,000 items holds no objects a full collection must walk,
    where a list per verdict made each one 10+ ms long (bench.guard's tail)."""

    def __init__(self) -> None:
        self.verdicts: dict[str, KnownVerdict] = {}
        self.breakers: dict[tuple[str, str, str], KnownBreaker] = {}
        # surface x region -> the recommender versions with a breaker record, for requests that name none
        self._versions: dict[tuple[str, str], set[str]] = {}

    def apply_verdict(self, record: dict) -> None:
        self.verdicts[record["item_id"]] = KnownVerdict(
            action=record["action"], reason=record["reason"], unsafe_categories=tuple(record["unsafe_categories"]),
            policy_version=record["policy_version"], model_version=record["model_version"])

    def forget_verdict(self, item_id: str) -> None:
        """A tombstone: nothing is known of the item any more."""
        self.verdicts.pop(item_id, None)

    def apply_breaker(self, record: dict) -> None:
        key = (record["surface"], record["region"], record["recommender_model_version"])
        self.breakers[key] = KnownBreaker(state=record["state"], since_ms=record["window_end"],
                                          reason=record["reason"], policy_version=record["policy_version"])
        self._versions.setdefault(key[:2], set()).add(key[2])

    def breaker(self, surface: str, region: str, recommender_model_version: str | None) -> KnownBreaker:
        """The slice's breaker; for no recommender version, the most severe of the surface and region's."""
        if recommender_model_version is not None:
            return self.breakers.get((surface, region, recommender_model_version), CLOSED)
        found = [self.breakers[(surface, region, v)] for v in sorted(self._versions.get((surface, region), ()))]
        return max(found, key=lambda b: STATES.index(b["state"]), default=CLOSED)


def _switches(policy: Policy | None, surface: str, region: str) -> list[KillSwitch]:
    if policy is None:
        return []
    return [s for s in policy.kill_switches
            if (s.surface is None or s.surface == surface) and (s.region is None or s.region == region)]


def describe(switch: KillSwitch) -> str:
    """`surface shorts, category spam`: what a kill switch names."""
    return ", ".join(f"{name} {value}" for name, value in
                     (("surface", switch.surface), ("region", switch.region), ("category", switch.category)) if value)


def decide(view: GuardView, request: Request, policy: Policy | None, stale: bool, fail_mode: str) -> Answer:
    """Every candidate's decision, in the request's order (see the module's docstring for the rules)."""
    breaker = view.breaker(request.surface, request.region, request.recommender_model_version)
    switches = _switches(policy, request.surface, request.region)
    if stale:
        table, rule = (FAIL_CLOSED, "stale_fail_closed") if fail_mode == "closed" else (RULES["closed"],
                                                                                       "stale_fail_open")
    else:
        table, rule = RULES[breaker["state"]], "breaker_" + breaker["state"]
    whole = any(s.category is None for s in switches)
    killing = {s.category for s in switches}
    verdicts = view.verdicts
    decisions: list[Decision] = []
    for item_id in request.items:
        verdict = verdicts.get(item_id)
        action = verdict["action"] if verdict is not None else None
        if switches and (whole or (verdict is not None and not killing.isdisjoint(verdict["unsafe_categories"]))):
            decision = {"item_id": item_id, "decision": "drop", "rule": "kill_switch", "verdict": action}
        else:
            # A dict literal: a third of the cost of calling the TypedDict, on the hottest line of the guard.
            decision = {"item_id": item_id, "decision": table[action or NO_VERDICT], "rule": rule, "verdict": action}
        if request.explain:
            decision["evidence"] = verdict
        decisions.append(decision)
    return Answer(decisions, breaker, policy.version if policy is not None else "",
                  [describe(s) for s in switches], stale, fail_mode)
