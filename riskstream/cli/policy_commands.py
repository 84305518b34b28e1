"""`riskstream policy validate|diff|evaluate|publish|history|rollback|shadow-report`: a safety policy's lifecycle.

A policy is written as a TOML file (`policies/`), validated (against the served model's categories when
Triton answers), compared with the active one, and published with a reason; the topic keeps every
publication, so `history` lists them and `rollback VERSION` makes an earlier one active again. A
policy published with `mode = "shadow"` is evaluated by the job beside the active one and never acts;
`shadow-report VERSION` shows what enforcing it would have changed; `evaluate FILE` (and the shadow report,
where labels exist) what its thresholds buy against human labels.
"""
from __future__ import annotations

import argparse
import getpass
import time
from pathlib import Path

from riskstream.core import config
from riskstream.core.errors import ConfigError
from riskstream.cli import policy_store
from riskstream.cli.label_rows import RANDOM_SAMPLE, LabelRange
from udfs import policy as policies


def add_parser(commands, services_of, parse_time) -> None:
    policy = commands.add_parser("policy", help="validate, compare, publish, list and roll back safety policies")
    actions = policy.add_subparsers(dest="policy_action", required=True)
    for name, text, handler in (
            ("validate", "check a policy file (and its categories against the served model)", _validate),
            ("diff", "what a policy file changes against the active policy", _diff),
            ("evaluate", "precision and recall of a policy file's thresholds against human labels, beside the "
                         "active policy's", _evaluate),
            ("publish", "validate a policy file and publish it as the active policy", _publish),
            ("history", "every publication on the policies topic, oldest first, and the active one", _history),
            ("rollback", "publish an earlier version again as the active policy", _rollback),
            ("shadow-report", "what enforcing a shadow policy would have changed, from the job's evaluations",
             _shadow_report)):
        action = actions.add_parser(name, help=text)
        config.add_options(action, config.SERVICE_OPTIONS + (config.STATE_DIR,))
        if name in ("validate", "diff", "publish", "evaluate"):
            action.add_argument("file", type=Path, help="policy TOML file")
        if name == "evaluate":
            action.add_argument("--to", type=parse_time, default="now", metavar="TIME",
                                help="end of the labels' time range (now, ISO 8601 or epoch ms; default now)")
            action.add_argument("--hours", type=float, default=7 * 24, help="length of the range (default 168)")
            action.add_argument("--job-id", help="only this job's rows (default: every job's, each label once)")
            action.add_argument("--queue", default=RANDOM_SAMPLE,
                                help=f"reviewer queue whose labels count (default {RANDOM_SAMPLE}; 'all': every one)")
            action.add_argument("--json", action="store_true", help="one JSON object per category")
        if name == "rollback":
            action.add_argument("version", help="the version to make active again")
        if name == "shadow-report":
            action.add_argument("version", help="the shadow policy's version")
            action.add_argument("--job-id", help="whose evaluations (default: the job that wrote the newest)")
        if name in ("publish", "rollback"):
            action.add_argument("--reason", required=True, help="why (kept in the history)")
            action.add_argument("--author", default=getpass.getuser(), help="who (default: this user)")
        action.set_defaults(handler=lambda args, h=handler: h(args, services_of(args)))


def _categories(services) -> tuple[str, ...] | None:
    from riskstream.io.triton_client import model_info

    try:
        return model_info(services.triton.url, services.triton.model_name).categories
    except Exception as exc:  # noqa: BLE001 - validation without the model still checks everything else
        print(f"note: categories not checked: Triton at {services.triton.url} did not answer ({exc})")
        return None


def _validate(args: argparse.Namespace, services) -> int:
    policy = policies.load(args.file, _categories(services))
    print(f"{args.file}: valid; version {policy.version}, mode {policy.mode}, {len(policy.thresholds)} thresholds, "
          f"{len(policy.block_thresholds)} block thresholds, {len(policy.kill_switches)} kill switches")
    return 0


def _diff(args: argparse.Namespace, services) -> int:
    categories = _categories(services)
    candidate = policies.load(args.file, categories)
    current = policy_store.active(policy_store.history(services.kafka, categories))
    print(f"active: {current.version if current else '(none published)'}; {args.file}: {candidate.version}")
    changes = policies.diff(current, candidate)
    for change in changes:
        print(f"  {change}")
    if not changes:
        print("  no change")
    return 0


def _evaluate(args: argparse.Namespace, services) -> int:
    from riskstream.cli import policy_evaluate
    from riskstream.io import clickhouse

    if args.hours <= 0:
        raise ConfigError("--hours must be > 0")
    categories = _categories(services)
    candidate = policies.load(args.file, categories)
    active = policy_store.active(policy_store.history(services.kafka, categories))
    labels = LabelRange.hours_before(args.to, args.hours, args.job_id, args.queue)
    client = clickhouse.connect(services.clickhouse, database=services.clickhouse.database)
    try:
        rows = policy_evaluate.compare(client, labels, candidate, active)
    finally:
        client.close()
    print("\n".join(policy_evaluate.as_json(rows)) if args.json else
          policy_evaluate.render(rows, candidate.version, active.version if active else None))
    return 0


def _shadow_against_labels(services, found) -> None:
    """Where human labels exist for the report's job and time, the shadow policy's thresholds against them."""
    from riskstream.cli import policy_evaluate
    from riskstream.io import clickhouse

    categories = _categories(services)
    publications = policy_store.history(services.kafka, categories)
    shadow = next((p.policy for p in reversed(publications) if p.policy and p.policy.version == found.version), None)
    if shadow is None:
        return
    active = policy_store.active(publications)
    client = clickhouse.connect(services.clickhouse, database=services.clickhouse.database)
    try:  # the labels made while the job evaluated the shadow policy
        rows = policy_evaluate.compare(client, LabelRange(found.first_ms, found.last_ms + 1, found.job_id), shadow,
                                       active)
    finally:
        client.close()
    if any(quality.labelled for quality, _ in rows):
        print()
        print(policy_evaluate.render(rows, shadow.version, active.version if active else None))


def _publish(args: argparse.Namespace, services) -> int:
    categories = _categories(services)
    published = policy_store.publish(services.kafka, policies.load(args.file, categories), args.author, args.reason,
                                     categories)
    print(f"published {published.policy.version} ({published.policy.mode}) at offset {published.offset} of "
          f"{services.kafka.policies_topic}")
    return 0


def _history(args: argparse.Namespace, services) -> int:
    found = policy_store.history(services.kafka, _categories(services))
    current = policy_store.active(found)
    for publication in found:
        policy = publication.policy
        if policy is None:
            print(f"{publication.offset:>6}  INVALID  {publication.key}: {publication.error}")
            continue
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(policy.created_at_ms / 1000))
        rolled = f" (rollback of {policy.rollback_of or '(none)'})" if policy.rollback_of is not None else ""
        print(f"{publication.offset:>6}  {policy.version}  {policy.mode}  {when}  {policy.author}: "
              f"{policy.reason}{rolled}")
    print(f"active: {current.version if current else '(none)'}")
    return 0


def _rollback(args: argparse.Namespace, services) -> int:
    published = policy_store.rollback(services.kafka, args.version, args.author, args.reason,
                                      _categories(services))
    print(f"{published.policy.version} is active again (offset {published.offset}; it replaced "
          f"{published.policy.rollback_of or '(none)'})")
    return 0


def _shadow_report(args: argparse.Namespace, services) -> int:
    from riskstream.cli import shadow_report

    found = shadow_report.report(services.clickhouse, args.version, args.job_id)
    if found is None:
        print(f"no shadow evaluation of {args.version!r}" + (f" by job {args.job_id}" if args.job_id else "") +
              "; publish it with mode = \"shadow\" and let a job read impressions after it")
        return 1
    print(shadow_report.render(found))
    _shadow_against_labels(services, found)
    # Reading a shadow report is a step toward enforcing it: the audit trail keeps what it showed.
    from riskstream.cli import audit_command
    from udfs import audit

    total = found.total
    audit_command.record(services.clickhouse, audit.shadow_summary(
        found.version, found.job_id, ",".join(found.active_versions),
        {"scored": total.scored, "unsafe_active": total.unsafe_active, "unsafe_shadow": total.unsafe_shadow,
         "to_unsafe": total.to_unsafe, "to_safe": total.to_safe, "first_ms": found.first_ms,
         "last_ms": found.last_ms}, getpass.getuser(), int(time.time() * 1000)))
    return 0
