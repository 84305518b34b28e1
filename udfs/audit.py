"""Audit records: who did what to the control plane, when, why, under which version, on what evidence.

One record per policy publication (accepted, rolled back, or rejected: a record on the policies topic
that is not a valid policy, which the job ignores), per breaker transition (the job's, from the rates)
and per manual breaker override (a policy forcing a slice open or closed, or lifting it), and per shadow
evaluation summary someone read. Each has a stable `audit_id`, so writing it again (a replay, a restart,
a second job reading the same topic) adds nothing. Pure logic, no pyflink.

>>> from udfs.policy_log import Publication
>>> from udfs.policy import Policy
>>> record = from_publication(Publication(7, "v2@1000", Policy("v2", {"spam": 0.5}, author="ana", reason="spam wave",
...                                                                created_at_ms=1_000)), "policies", 1_000, "job-1")
>>> record.kind, record.subject, record.action, record.actor, record.reason, record.audit_id
('policy_published', 'v2', 'enforce', 'ana', 'spam wave', 'policies@7')
>>> from_publication(Publication(8, "x", None, "field thresholds: missing"), "policies", 2_000, "job-1").kind
'policy_rejected'
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from udfs.breakers import Transition
from udfs.policy import Policy
from udfs.policy_log import Publication

KINDS = ("policy_published", "policy_rolled_back", "policy_rejected", "breaker_transition", "breaker_override",
         "shadow_evaluation", "forget")
COLUMNS = ("at", "kind", "subject", "action", "actor", "reason", "policy_version", "evidence", "source", "audit_id",
           "job_id")


@dataclass(frozen=True)
class AuditRecord:
    """One row of the audit_log table (`schemas/clickhouse/007_audit_log.sql`)."""

    at_ms: int  # when it took effect: publication time, or the event time a breaker moved at
    kind: str
    subject: str  # a policy version, or a slice "surface/region/recommender version"
    action: str  # the mode published, "from -> to" for a breaker, what a summary covers
    actor: str  # who: a policy's author, the job for breaker moves it decided
    reason: str
    policy_version: str
    evidence: dict = field(default_factory=dict)
    source: str = ""  # where it was read or decided: topic@offset, job id
    audit_id: str = ""
    job_id: str = ""

    def values(self) -> list:
        """The row's values in `COLUMNS` order (evidence as JSON with sorted keys)."""
        return [self.at_ms, self.kind, self.subject, self.action, self.actor, self.reason, self.policy_version,
                json.dumps(self.evidence, sort_keys=True, default=str), self.source, self.audit_id, self.job_id]


def _rules(policy: Policy) -> dict:
    return {"thresholds": policy.thresholds, "block_thresholds": policy.block_thresholds,
            "kill_switches": [{k: v for k, v in vars(s).items() if v is not None} for s in policy.kill_switches],
            "breaker": vars(policy.breaker),
            "breaker_overrides": [{k: v for k, v in vars(o).items() if v is not None} for o in policy.breaker_overrides],
            "created_at_ms": policy.created_at_ms, "rollback_of": policy.rollback_of}


def from_publication(publication: Publication, topic: str, timestamp_ms: int, job_id: str) -> AuditRecord:
    """A record of the policies topic as audited: published, rolled back, or rejected (and ignored)."""
    source = f"{topic}@{publication.offset}"
    policy = publication.policy
    if policy is None:
        return AuditRecord(timestamp_ms, "policy_rejected", publication.key, "ignored", "", publication.error or "",
                           "", {"key": publication.key, "error": publication.error}, source, source, job_id)
    kind = "policy_rolled_back" if policy.rollback_of else "policy_published"
    return AuditRecord(policy.created_at_ms or timestamp_ms, kind, policy.version, policy.mode, policy.author,
                       policy.reason, policy.version, _rules(policy), source, source, job_id)


def from_transition(transition: Transition, dims: tuple[str, str, str], window_ms: int, policy: Policy,
                    manual: bool, job_id: str) -> AuditRecord:
    """A breaker's move: `manual` when a policy's override (set or lifted) made it, else the rates did."""
    subject = "/".join(dims)
    evidence = {"window_start_ms": transition.window_start, "scored": transition.scored,
                "unsafe": transition.unsafe, "rate": transition.rate, "baseline_rate": transition.baseline_rate,
                "z": transition.z}
    return AuditRecord(
        transition.window_start + window_ms, "breaker_override" if manual else "breaker_transition", subject,
        f"{transition.from_state} -> {transition.to_state}", policy.author if manual else f"job {job_id}",
        transition.reason, policy.version, evidence, job_id,
        f"{job_id}/{subject}/{transition.window_start}/{transition.to_state}", job_id)


def shadow_summary(version: str, job_id: str, against: str, totals: dict, actor: str, at_ms: int) -> AuditRecord:
    """A shadow report someone read: what enforcing `version` would have changed, as it showed then."""
    return AuditRecord(at_ms, "shadow_evaluation", version, "report", actor,
                       f"shadow report of {version} against {against}", version, totals, job_id,
                       f"shadow/{version}/{job_id}/{at_ms}", job_id)
