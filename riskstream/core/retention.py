"""Which retention class each ClickHouse table is in, and its TTL; the days of each class are
`config.RetentionSettings` (one place, with the Kafka topics' retention).

Rows go a class's days after they were written (a processing-time column), so a backfill of old events is not
deleted on arrival: rows about single records or items go soon, aggregates late, the audit trail last. No
aggregate holds a personal id (viewer or creator); those are only in the raw topics, bounded by time.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from riskstream.core.config import RetentionSettings


class Keep(Enum):
    """A retention class: what a table holds decides how long it is kept."""

    ITEMS = "items"            # one row per record or item: the dead-letter index, late events
    LABELS = "labels"          # human labels joined to the model's scores: the ground truth it is measured on
    AGGREGATES = "aggregates"  # windowed health, shadow, breaker transitions, causes, bias findings
    AUDIT = "audit"            # who did what, when, with which evidence


def days(settings: RetentionSettings, keep: Keep) -> int:
    return {Keep.ITEMS: settings.item_days, Keep.LABELS: settings.label_days,
            Keep.AGGREGATES: settings.aggregate_days, Keep.AUDIT: settings.audit_days}[keep]


@dataclass(frozen=True)
class TableRetention:
    """A ClickHouse table's TTL: rows go `days(keep)` after `written_column`."""

    table: str
    keep: Keep
    written_column: str = "written_at"

    def ttl(self, settings: RetentionSettings) -> str:
        """The TTL expression as ClickHouse prints it back (system.tables), so a check can compare the two."""
        return f"toDateTime({self.written_column}) + toIntervalDay({days(settings, self.keep)})"


# Every table the migrations create, but the migration ledger. A test fails when a table has no class.
TABLES = (
    TableRetention("dead_letters", Keep.ITEMS),
    TableRetention("late_events", Keep.ITEMS),
    TableRetention("label_outcomes", Keep.LABELS),
    TableRetention("safety_health", Keep.AGGREGATES),
    TableRetention("shadow_health", Keep.AGGREGATES),
    TableRetention("breaker_transitions", Keep.AGGREGATES),
    TableRetention("alert_causes", Keep.AGGREGATES, "explained_at"),
    TableRetention("bias_findings", Keep.AGGREGATES, "evaluated_at"),
    TableRetention("smoke_minute_counts", Keep.AGGREGATES),
    TableRetention("audit_log", Keep.AUDIT),
)
LEDGER = "schema_migrations"  # which migrations ran: kept as long as the database
AGGREGATES = tuple(t.table for t in TABLES if t.keep is Keep.AGGREGATES)

# Flink: the newest checkpoints kept (execution.checkpointing.num-retained, locally and on Kubernetes) and the
# savepoint history the Flink Kubernetes Operator keeps and disposes of beyond (k8s/base/safety-health.yaml).
CHECKPOINTS_RETAINED = 3
SAVEPOINTS_KEPT = 5
SAVEPOINT_MAX_AGE_DAYS = 7
