"""`riskstream forget`: forget a viewer or a creator in every store the project writes, with a receipt in the
audit trail; `riskstream forget verify REQUEST_ID` looks for them everywhere afterwards.

The request goes first to the compacted forget-requests topic, which every job reading the raw topics follows:
from then on their records are dropped at decode (on a replay of old offsets too), so the id never re-enters
state or output. Then every ClickHouse table loses it (aggregates their item lists; other rows are deleted),
physically, and the item-verdicts topic's keys of a creator's items get tombstones. Raw topics cannot delete
one record: what they hold of the subject ages out with their retention (the receipt says when).
"""
from __future__ import annotations

import argparse
import json
import time
import uuid
from dataclasses import asdict
from pathlib import Path

from riskstream.cli import audit_command
from riskstream.cli.tables import format_table
from riskstream.core import config, job_config, retention, schemas
from riskstream.core.errors import ConfigError
from riskstream.io import checkpoints, clickhouse, erasure, kafka_admin, topic_records, topics
from udfs import audit, forget
from udfs.forget import ForgetRequest, Receipt
from udfs.wire import AvroDecoder, SchemaHistory

HOUR_MS = 3600 * 1000
DAY_MS = 24 * HOUR_MS


def add_parser(commands, services_of) -> None:
    parser = commands.add_parser("forget", help="forget a viewer or creator in every store, with a receipt "
                                                "(`forget verify REQUEST_ID` checks every store afterwards)")
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--user", help="a viewer: the impressions' user_id_hash")
    who.add_argument("--creator", help="a creator: the impressions' creator_id (their items go too)")
    parser.add_argument("--reason", help="why (a ticket, the legal basis): kept with the request and its receipt")
    parser.add_argument("--by", default="riskstream-cli", help="who asks (default riskstream-cli)")
    parser.add_argument("--json", action="store_true", help="the receipt as one JSON object")
    config.add_options(parser, config.SERVICE_OPTIONS + (config.STATE_DIR,))
    actions = parser.add_subparsers(dest="forget_action")
    verify = actions.add_parser("verify", help="look for a forgotten subject in every store")
    verify.add_argument("request_id")
    verify.add_argument("--json", action="store_true", help="one JSON object per place looked at")
    verify.add_argument("--checkpoint-dir", action="append",
                        help="a folder of the job's checkpoints to look in (repeatable; default <state dir>/checkpoints)")
    verify.add_argument("--savepoint-dir", action="append",
                        help="a folder of savepoints to look in (repeatable; default <state dir>/savepoints)")
    config.add_options(verify, config.SERVICE_OPTIONS + (config.STATE_DIR,))
    parser.set_defaults(handler=lambda args: _dispatch(args, services_of(args)))


def _dispatch(args: argparse.Namespace, services: config.ServiceSettings) -> int:
    if args.forget_action == "verify":
        state_dir = Path(args.state_dir)
        folders = [*(args.checkpoint_dir or [state_dir / "checkpoints"]),
                   *(args.savepoint_dir or [state_dir / "savepoints"])]
        return _verify(args.request_id, services, args.json, folders)
    if not (args.user or args.creator) or not args.reason:
        raise ConfigError("forget: name --user ID or --creator ID, and --reason")
    kind, subject = ("viewer", args.user) if args.user else ("creator", args.creator)
    receipt = forget_subject(services, kind, subject, args.reason, args.by)
    print(json.dumps(asdict(receipt), sort_keys=True) if args.json else render(receipt))
    return 0


def creator_items(kafka: config.KafkaSettings, creator: str) -> list[str]:
    """The items whose newest verdict names `creator` (verdicts v3 carry the creator)."""
    decoder = AvroDecoder(SchemaHistory.from_folder(schemas.VERDICT_HISTORY).latest,
                          SchemaHistory.from_folder(schemas.VERDICT_HISTORY))
    items = []
    for key, value in topic_records.newest_per_key(kafka, kafka.item_verdicts_topic).items():
        if value is not None and decoder.decode(value).get("creator_id") == creator:
            items.append(key.decode("utf-8"))
    return sorted(items)


def _ensure_topics(kafka: config.KafkaSettings) -> None:
    kafka_admin.require_ready(kafka)
    kafka_admin.ensure_topics(kafka, topics.named(kafka, kafka.forget_requests_topic, kafka.item_verdicts_topic))


def forget_subject(services: config.ServiceSettings, kind: str, subject: str, reason: str, by: str) -> Receipt:
    """Record the request, erase the subject from ClickHouse and the compacted topics; the receipt, audited."""
    kafka = services.kafka
    _ensure_topics(kafka)
    now = int(time.time() * 1000)
    items = creator_items(kafka, subject) if kind == "creator" else []
    request = ForgetRequest(uuid.uuid4().hex, kind, subject, now, by, reason, tuple(items))
    topic_records.write(kafka, kafka.forget_requests_topic, [forget.encode(request)])
    settings = services.clickhouse
    client = clickhouse.connect(settings, database=settings.database)
    try:
        erased = erasure.erase(client, [subject, *items])
    finally:
        client.close()
    # The items were found by their live verdicts: each gets its tombstone (no second read of the topic).
    dead = [(item.encode("utf-8"), None) for item in items]
    topic_records.write(kafka, kafka.item_verdicts_topic, dead)
    receipt = Receipt(request.request_id, kind, forget.subject_hash(subject), now, len(items), erased,
                      {kafka.item_verdicts_topic: len(dead)}, raw_topic_bounds(kafka, now), state_bound(now))
    audit_command.record(settings, audit.AuditRecord(
        now, "forget", request.request_id, f"forget {kind}", by, reason, "", asdict(receipt),
        kafka.forget_requests_topic, request.request_id))
    return receipt


def raw_topic_bounds(kafka: config.KafkaSettings, now_ms: int) -> dict[str, int | None]:
    """When retention has removed the records the raw topics held before the request."""
    hours = kafka.impressions_retention_hours
    return {kafka.impressions_topic: forget.aged_out_by(now_ms, hours * HOUR_MS if hours >= 0 else -1),
            kafka.dead_letter_topic: forget.aged_out_by(now_ms, kafka.retention.item_days * DAY_MS),
            kafka.moderation_labels_topic: forget.aged_out_by(now_ms, kafka.retention.label_days * DAY_MS)}


def state_bound(now_ms: int) -> int:
    """The job's state holds an item at most the label join's item memory (the longest of its TTLs; windows
    close within minutes); a savepoint taken before that is disposed of within the savepoint history's age."""
    return now_ms + job_config.LABEL_ITEM_MEMORY.default * HOUR_MS + retention.SAVEPOINT_MAX_AGE_DAYS * DAY_MS


def _at(ms: int | None) -> str:
    return "never (kept forever)" if ms is None else time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ms / 1000))


def render(receipt: Receipt) -> str:
    lines = [f"forget request {receipt.request_id}: {receipt.kind} sha256:{receipt.subject_sha256[:16]}... at "
             f"{_at(receipt.requested_at_ms)}" + (f", with {receipt.items} items" if receipt.kind == "creator" else "")]
    rows = [("clickhouse", table, f"{count} rows rewritten or deleted") for table, count in
            sorted(receipt.clickhouse_rows.items())]
    rows += [("kafka", topic, f"{count} tombstones") for topic, count in receipt.tombstones.items()]
    rows += [("kafka", topic, f"records from before the request aged out by {_at(by)}")
             for topic, by in receipt.raw_topics_aged_out_by.items()]
    rows.append(("flink", "state and savepoints", f"aged out by {_at(receipt.flink_state_aged_out_by)}"))
    return "\n".join(lines + [format_table(["store", "where", "done"], rows)])


def find_request(kafka: config.KafkaSettings, request_id: str) -> ForgetRequest:
    for value in topic_records.newest_per_key(kafka, kafka.forget_requests_topic).values():
        if value is not None:
            request = forget.decode(value)
            if request.request_id == request_id:
                return request
    raise ConfigError(f"no forget request {request_id} on {kafka.forget_requests_topic}")


def state_places(folders: list, ids: list[str], requested_at_ms: int, now_ms: int) -> list[dict]:
    """Every checkpoint and savepoint under `folders` holding one of `ids`, or one clean entry per folder: state
    found before the bound the receipt promised is expected (it ages out), after it is a failure."""
    bound = state_bound(requested_at_ms)
    places = []
    for folder in folders:
        if "://" in str(folder):
            places.append({"store": "flink", "where": str(folder), "found": None, "clean": now_ms < bound,
                           "aged_out_by": bound, "note": "a remote store: not scanned here"})
            continue
        findings = checkpoints.scan_snapshots(Path(folder), ids) if Path(folder).is_dir() else []
        holding = [f for f in findings if f.occurrences]
        places += [{"store": "flink", "where": str(f.snapshot), "found": f.occurrences, "clean": now_ms < bound,
                    "aged_out_by": bound} for f in holding]
        if not holding:
            places.append({"store": "flink", "where": f"{folder} ({len(findings)} snapshots)", "found": 0,
                           "clean": True})
    return places


def _verify(request_id: str, services: config.ServiceSettings, as_json: bool, state_folders: list) -> int:
    kafka = services.kafka
    _ensure_topics(kafka)
    request = find_request(kafka, request_id)
    ids = [request.subject_id, *request.items]
    settings = services.clickhouse
    client = clickhouse.connect(settings, database=settings.database)
    try:
        found = [("clickhouse", table, count) for table, count in erasure.scan(client, ids).items()]
        pending = erasure.unfinished_mutations(client)
    finally:
        client.close()
    newest = topic_records.newest_per_key(kafka, kafka.item_verdicts_topic)
    found.append(("kafka", kafka.item_verdicts_topic,
                  sum(1 for i in request.items if newest.get(i.encode("utf-8")) is not None)))
    raw = [topic_records.scan_raw(kafka, topic, ids)
           for topic in (kafka.impressions_topic, kafka.dead_letter_topic, kafka.moderation_labels_topic)]
    bounds = raw_topic_bounds(kafka, request.requested_at_ms)
    places = [{"store": store, "where": where, "found": count, "clean": count == 0} for store, where, count in found]
    places += [{"store": "kafka (raw)", "where": r.topic, "found": r.records, "clean": True,
                "aged_out_by": bounds[r.topic]} for r in raw]
    places += state_places(state_folders, ids, request.requested_at_ms, int(time.time() * 1000))
    clean = all(p["clean"] for p in places) and pending == 0
    if as_json:
        for place in places:
            print(json.dumps(place, sort_keys=True))
    else:
        rows = [(p["store"], p["where"], "-" if p["found"] is None else str(p["found"]),
                 "clean" if p["found"] == 0 else
                 (f"ages out by {_at(p['aged_out_by'])}" if p["clean"] and "aged_out_by" in p else "FOUND"))
                for p in places]
        print(format_table(["store", "where", "records", "status"], rows))
        print(f"request {request_id}: " + ("clean" if clean else "the subject is still stored (see FOUND)")
              + (f"; {pending} mutations still running" if pending else ""))
    return 0 if clean else 1
