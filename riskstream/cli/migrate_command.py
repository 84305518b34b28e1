"""`riskstream migrate`: apply ClickHouse's pending schema migrations and the tables' TTLs.

What the job's ClickHouse writer also does when it opens; run on its own, the schema is ready before a new
version of the job starts. On Kubernetes a Job runs it at each `kubectl apply` (k8s/base/clickhouse-migrate.yaml).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from riskstream.core import config
from riskstream.io import clickhouse, stack_state


def add_parser(commands) -> None:
    parser = commands.add_parser("migrate", help="apply ClickHouse's pending schema migrations and the tables' TTLs "
                                                 "(what the job's writer does when it opens)")
    config.add_options(parser, config.CLICKHOUSE_OPTIONS + config.RETENTION_OPTIONS + (config.STATE_DIR,))
    parser.set_defaults(handler=_migrate)


def _migrate(args: argparse.Namespace) -> int:
    """Only ClickHouse is needed: its URL, or the local stack's embedded path."""
    settings = config.clickhouse_settings(args, stack_state.addresses(Path(args.state_dir)))
    client = clickhouse.connect(settings, database=settings.database)
    try:
        applied = clickhouse.migrate(client, retention=settings.retention)
        version = clickhouse.schema_version(client)
    finally:
        client.close()
    done = ", ".join(applied) if applied else "none pending"
    print(f"ClickHouse {settings.url} database {settings.database}: migrations applied: {done}; "
          f"schema version {version}; TTLs as the retention settings say")
    return 0
