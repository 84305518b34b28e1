"""`riskstream audit`: the control plane's audit trail, newest first, filtered (`audit_log`, udfs/audit.py)."""
from __future__ import annotations

import argparse
import json

from riskstream.core import config
from riskstream.io import clickhouse
from udfs import audit

_SHOWN = ("at", "kind", "subject", "action", "actor", "policy_version", "reason")


def add_parser(commands, services_of, parse_time) -> None:
    parser = commands.add_parser("audit", help="list the audit trail: policy publications (and ignored records), "
                                               "breaker transitions and overrides, shadow reports read")
    parser.add_argument("--kind", action="append", choices=audit.KINDS, help="only these kinds (repeatable)")
    parser.add_argument("--subject", help="a policy version, or a slice surface/region/recommender version "
                                          "(a prefix such as shorts/br matches every version)")
    parser.add_argument("--policy-version", help="only records under this policy version")
    parser.add_argument("--job-id", help="only records written by this job")
    parser.add_argument("--since", type=parse_time, metavar="TIME", help="from this time (ISO 8601 or epoch ms)")
    parser.add_argument("--until", type=parse_time, metavar="TIME", help="before this time")
    parser.add_argument("--limit", type=int, default=50, help="at most this many records (default 50)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line, evidence included")
    config.add_options(parser, config.SERVICE_OPTIONS + (config.STATE_DIR,))
    parser.set_defaults(handler=lambda args: _audit(args, services_of(args)))


def query(settings: config.ClickHouseSettings, kinds=None, subject=None, policy_version=None, job_id=None,
          since_ms=None, until_ms=None, limit: int = 50) -> list[dict]:
    """Audit records matching every filter given, newest first."""
    where, parameters = [], {"limit": limit}
    for clause, name, value in (
            ("kind IN {kinds:Array(String)}", "kinds", list(kinds) if kinds else None),
            ("startsWith(subject, {subject:String})", "subject", subject),
            ("policy_version = {policy_version:String}", "policy_version", policy_version),
            ("job_id = {job_id:String}", "job_id", job_id),
            ("at >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')", "since", since_ms),
            ("at < fromUnixTimestamp64Milli({until:Int64}, 'UTC')", "until", until_ms)):
        if value is not None:
            where.append(clause)
            parameters[name] = value
    client = clickhouse.connect(settings, database=settings.database)
    try:
        result = client.query(
            f"SELECT toUnixTimestamp64Milli(at) AS at_ms, {', '.join(audit.COLUMNS[1:])} FROM audit_log FINAL "
            f"{'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY at DESC, audit_id LIMIT {{limit:UInt32}}",
            parameters=parameters)
        return [dict(zip(result.column_names, row)) for row in result.result_rows]
    finally:
        client.close()


def record(settings: config.ClickHouseSettings, entry: audit.AuditRecord) -> None:
    """Append one record (from a command, e.g. a shadow report read)."""
    client = clickhouse.connect(settings, database=settings.database)
    try:
        client.insert("audit_log", [entry.values()], column_names=list(audit.COLUMNS))
    finally:
        client.close()


def _audit(args: argparse.Namespace, services: config.ServiceSettings) -> int:
    from datetime import datetime, timezone

    rows = query(services.clickhouse, args.kind, args.subject, args.policy_version, args.job_id, args.since,
                 args.until, args.limit)
    for row in rows:
        row["at"] = datetime.fromtimestamp(row.pop("at_ms") / 1000, timezone.utc).isoformat(timespec="milliseconds")
        if args.json:
            print(json.dumps({**row, "evidence": json.loads(row["evidence"] or "{}")}, sort_keys=True))
        else:
            print("  ".join(str(row[c]) for c in _SHOWN))
    if not args.json:
        print(f"{len(rows)} record(s)")
    return 0
