"""Audit records: what each control-plane event is recorded as, with stable ids (pure logic)."""
from __future__ import annotations

import json

from udfs import audit
from udfs.breakers import Transition
from udfs.policy import BreakerOverride, KillSwitch, Policy
from udfs.policy_log import Publication

POLICY = Policy("v7", {"spam": 0.5}, kill_switches=(KillSwitch(surface="kids", category="spam"),),
                breaker_overrides=(BreakerOverride("open", surface="shorts", region="br"),),
                author="ana", reason="incident 42", created_at_ms=1_767_744_000_000)


def test_a_publication_is_recorded_with_its_author_reason_rules_and_topic_offset():
    record = audit.from_publication(Publication(12, "v7@1767744000000", POLICY), "policies", 5, "job-a")
    assert (record.at_ms, record.kind, record.subject, record.action, record.actor, record.reason,
            record.policy_version, record.source, record.audit_id) == (
        1_767_744_000_000, "policy_published", "v7", "enforce", "ana", "incident 42", "v7", "policies@12",
        "policies@12")
    assert record.evidence["kill_switches"] == [{"surface": "kids", "category": "spam"}]
    assert record.evidence["breaker_overrides"] == [{"state": "open", "surface": "shorts", "region": "br"}]
    # Another job reading the same record writes the same row (the table's key collapses it).
    again = audit.from_publication(Publication(12, "v7@1767744000000", POLICY), "policies", 9, "job-b")
    assert again.audit_id == record.audit_id


def test_a_rollback_and_a_rejected_record_are_told_apart():
    rolled = Policy("v6", {"spam": 0.6}, author="bo", reason="v7 over-blocks", created_at_ms=10, rollback_of="v7")
    assert audit.from_publication(Publication(13, "v6@10", rolled), "policies", 10, "j").kind == "policy_rolled_back"
    rejected = audit.from_publication(Publication(14, "junk", None, "policies offset 14: not a policy record"),
                                      "policies", 1_234, "j")
    assert (rejected.at_ms, rejected.kind, rejected.subject, rejected.action, rejected.reason) == (
        1_234, "policy_rejected", "junk", "ignored", "policies offset 14: not a policy record")


def test_breaker_moves_name_the_job_or_the_overriding_author_and_carry_their_evidence():
    trip = Transition(600_000, "closed", "open", 150, 60, 0.4, 0.1, 6.2, "rate 0.400 > trip 0.2")
    decided = audit.from_transition(trip, ("shorts", "br", "r1"), 60_000, POLICY, False, "job-a")
    assert (decided.at_ms, decided.kind, decided.subject, decided.action, decided.actor) == (
        660_000, "breaker_transition", "shorts/br/r1", "closed -> open", "job job-a")
    assert decided.evidence == {"window_start_ms": 600_000, "scored": 150, "unsafe": 60, "rate": 0.4,
                                "baseline_rate": 0.1, "z": 6.2}
    forced = audit.from_transition(trip, ("shorts", "br", "r1"), 60_000, POLICY, True, "job-a")
    assert (forced.kind, forced.actor, forced.policy_version) == ("breaker_override", "ana", "v7")
    assert decided.audit_id == "job-a/shorts/br/r1/600000/open"


def test_values_follow_the_columns_with_evidence_as_json():
    record = audit.shadow_summary("s1", "job-a", "v7", {"scored": 10, "to_unsafe": 2}, "ana", 99)
    row = dict(zip(audit.COLUMNS, record.values()))
    assert row["kind"] == "shadow_evaluation" and row["at"] == 99 and row["actor"] == "ana"
    assert json.loads(row["evidence"]) == {"scored": 10, "to_unsafe": 2}
