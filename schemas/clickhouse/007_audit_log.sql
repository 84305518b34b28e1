-- The control plane's audit trail: every policy publication (and record ignored as invalid), breaker
-- transition and manual override, and shadow report read, with who, why, when, version and evidence
-- (udfs/audit.py). Append-only: nothing rewrites a row; a row written again (a replay, a restart, a second
-- job reading the same policies topic) has the same audit_id, which the key collapses.
CREATE TABLE IF NOT EXISTS audit_log
(
    at             DateTime64(3, 'UTC'),
    kind           LowCardinality(String),
    subject        String,
    action         String,
    actor          String,
    reason         String,
    policy_version LowCardinality(String),
    evidence       String,
    source         String,
    audit_id       String,
    job_id         String,
    written_at     DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY (kind, audit_id);
