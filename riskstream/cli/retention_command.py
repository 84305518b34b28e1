"""`riskstream retention show`: how long every store keeps what riskstream writes, as configured and as in force
(ClickHouse's own TTLs from system.tables, the brokers' topic configs), with Flink's checkpoints and savepoints."""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass

from riskstream.cli.tables import format_table
from riskstream.core import config, retention
from riskstream.io import clickhouse, kafka_admin, topics

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class Kept:
    """One store's object: what the settings say and what the store itself says."""

    store: str
    name: str
    configured: str
    counted_from: str
    in_force: str

    @property
    def agrees(self) -> bool:
        return self.in_force in (self.configured, "as configured")


def _span(ms: int) -> str:
    if ms < 0:
        return "forever"
    return f"{ms // DAY_MS} days" if ms % DAY_MS == 0 else f"{ms / 3_600_000:g} hours"


def clickhouse_rows(client, settings: config.RetentionSettings) -> list[Kept]:
    ttls = clickhouse.table_ttls(client)
    rows = []
    for table in retention.TABLES:
        if table.table not in ttls:
            in_force = "(no table)"
        elif ttls[table.table] == table.ttl(settings):
            in_force = "as configured"
        else:
            in_force = f"TTL {ttls[table.table] or 'none'}"
        rows.append(Kept("clickhouse", table.table, f"{retention.days(settings, table.keep)} days ({table.keep.value})",
                         table.written_column, in_force))
    rows.append(Kept("clickhouse", retention.LEDGER, "for good (the migration ledger)", "-",
                     "as configured" if ttls.get(retention.LEDGER, "") is None else "(no ledger)"))
    return rows


def _topic_text(configs: dict[str, str]) -> str:
    if "compact" in configs.get("cleanup.policy", ""):
        return "compacted: the newest record per key"
    return _span(int(configs.get("retention.ms", "-1")))


def kafka_rows(kafka: config.KafkaSettings) -> list[Kept]:
    specs = topics.specs(kafka)
    actual = kafka_admin.topic_configs(kafka, [s.name for s in specs])
    rows = []
    for spec in specs:
        configured = _topic_text(spec.configs)
        found = actual.get(spec.name)
        in_force = "(no topic)" if found is None else _topic_text(found)
        rows.append(Kept("kafka", spec.name, configured, "record timestamp",
                         "as configured" if in_force == configured else in_force))
    return rows


def flink_rows() -> list[Kept]:
    return [Kept("flink", "checkpoints", f"newest {retention.CHECKPOINTS_RETAINED}", "-",
                 "execution.checkpointing.num-retained (job and k8s/)"),
            Kept("flink", "savepoints", f"newest {retention.SAVEPOINTS_KEPT}, at most "
                                        f"{retention.SAVEPOINT_MAX_AGE_DAYS} days", "savepoint time",
                 "the Flink Kubernetes Operator's savepoint history (k8s/)")]


def add_parser(commands, services_of) -> None:
    parser = commands.add_parser("retention", help="how long each store keeps what riskstream writes")
    actions = parser.add_subparsers(dest="retention_action", required=True)
    show = actions.add_parser("show", help="every table, topic and Flink snapshot kind: configured and in force")
    show.add_argument("--json", action="store_true", help="one JSON object per store object")
    config.add_options(show, config.SERVICE_OPTIONS + (config.STATE_DIR,))
    show.set_defaults(handler=lambda args: _show(args, services_of(args)))


def _show(args: argparse.Namespace, services: config.ServiceSettings) -> int:
    settings = services.clickhouse
    kafka_admin.require_ready(services.kafka)
    client = clickhouse.connect(settings, database=settings.database)
    try:
        rows = clickhouse_rows(client, settings.retention) + kafka_rows(services.kafka) + flink_rows()
    finally:
        client.close()
    if args.json:
        for row in rows:
            print(json.dumps(asdict(row), sort_keys=True))
    else:
        print(format_table(["store", "name", "kept", "counted from", "in force"],
                           [(r.store, r.name, r.configured, r.counted_from, r.in_force) for r in rows]))
    differing = [r for r in rows if r.store != "flink" and not r.agrees]
    if differing:
        print(f"{len(differing)} differ from the settings: the next `riskstream topics`, `stack up` or job start "
              f"applies them")
    return 1 if differing else 0
