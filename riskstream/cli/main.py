"""The `riskstream` command: local stack, JARs, topics, the impression generator, the job and the demo run."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from riskstream.cli import (audit_command, bias_command, cluster_command, explain_command, generator_args,
                            forget_command, guard_command, job_commands, policy_commands, report_command,
                            migrate_command, retention_command, trace_command)
from riskstream.core import config, paths
from riskstream.io import jars, java_build
from riskstream.core.errors import RiskstreamError


def _stack(args: argparse.Namespace) -> int:
    from riskstream.stack import manager

    settings = config.stack_settings(args)
    if args.action == "up":
        for line in manager.up(settings):
            print(line)
        return 0
    if args.action == "down":
        for line in manager.down(settings):
            print(line)
        return 0
    statuses = manager.status(settings)
    for status in statuses:
        print(status.line)
    return 0 if all(s.healthy for s in statuses) else 1


def _jars(args: argparse.Namespace) -> int:
    if args.action == "lock":
        print(f"wrote {jars.write_lock()}")
        return 0
    for bundle, files in jars.ensure_all().items():
        print(f"{bundle}: {len(files)} JARs verified in {jars.bundle_dir(bundle)}")
    print(f"{java_build.OPERATORS}: built {java_build.operators()}")
    return 0


def _services(args: argparse.Namespace) -> config.ServiceSettings:
    from riskstream.io import stack_state as state

    return config.service_settings(args, state.addresses(Path(args.state_dir)))


def _topics(args: argparse.Namespace) -> int:
    from riskstream.io import kafka_admin, topics

    kafka = _services(args).kafka
    kafka_admin.require_ready(kafka)
    for spec in topics.specs(kafka):
        print(f"topic {spec.name}: {spec.partitions} partitions {spec.configs}")
    kafka_admin.ensure_topics(kafka, topics.specs(kafka))
    return 0


def _produce(args: argparse.Namespace) -> int:
    from riskstream.io import kafka_admin, topics
    from riskstream.cli.produce import produce

    services = _services(args)
    kafka = services.kafka
    kafka_admin.require_ready(kafka)
    kafka_admin.ensure_topics(kafka, topics.specs(kafka))
    report = produce(kafka, generator_args.settings(args), realtime=args.realtime, registry=services.registry)
    print(f"produced {report.count} impressions ({report.unsafe} with unsafe captions) to "
          f"{kafka.impressions_topic} in {report.seconds:.1f}s; event time {report.first_event_ms}..{report.last_event_ms}")
    if report.labels:
        print(f"produced {report.labels} moderation labels to {kafka.moderation_labels_topic}")
    return 0


def _grafana(args: argparse.Namespace) -> int:
    from dashboards import deploy, render

    if args.action == "render":
        for path in render.render():
            print(f"wrote {path}")
        return 0
    if not args.url:
        raise config.ConfigError(f"grafana deploy needs --url (or {config.GRAFANA_URL.env})")
    deploy.deploy_to(args.url, args.token or None, dry_run=args.dry_run)
    return 0


def _k8s(args: argparse.Namespace) -> int:
    from riskstream.stack import k8s_users

    # The topics the manifests' ConfigMap names are the defaults; the users' grants follow them.
    print(f"wrote {k8s_users.write(config.KafkaSettings(bootstrap_servers=''))}")
    return 0


def _parse_time(text: str) -> int:
    """Epoch milliseconds from `now`, epoch ms or an ISO 8601 time (UTC unless it says otherwise)."""
    from datetime import datetime, timezone

    if text == "now":
        return int(datetime.now(timezone.utc).timestamp() * 1000)
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is neither epoch ms nor an ISO 8601 time") from exc
    return int((moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp() * 1000)


def _alerts(args: argparse.Namespace) -> int:
    from dashboards import rule_eval
    from riskstream.io import clickhouse

    rules = rule_eval.load(Path(args.rules))
    settings = _services(args).clickhouse
    client = clickhouse.connect(settings, database=settings.database)
    try:
        firing = rule_eval.report(client, rules, args.at)
    finally:
        client.close()
    print(f"{firing} alert instance(s) firing")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from riskstream.cli import demo

    return demo.run(config.stack_settings(args), args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="riskstream", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    stack = commands.add_parser("stack", help="start, stop or check the local stack of real services")
    stack.add_argument("action", choices=["up", "down", "status"])
    config.add_options(stack, config.STACK_OPTIONS)
    stack.set_defaults(handler=_stack)

    jar = commands.add_parser("jars", help="fetch and verify the pinned JARs, or re-lock them")
    jar.add_argument("action", choices=["fetch", "lock"])
    jar.set_defaults(handler=_jars)

    topic = commands.add_parser("topics", help="create the project's Kafka topics")
    config.add_options(topic, config.SERVICE_OPTIONS + (config.STATE_DIR,))
    topic.set_defaults(handler=_topics)

    produce = commands.add_parser("produce", help="write synthetic Avro impressions to Kafka")
    config.add_options(produce, config.SERVICE_OPTIONS + (config.STATE_DIR,))
    generator_args.add_options(produce, count=10_000, rate=1000.0)
    produce.add_argument("--realtime", action="store_true", help="pace sends to the event-time rate")
    produce.set_defaults(handler=_produce)

    grafana = commands.add_parser("grafana", help="render Grafana provisioning files, or push them through the HTTP API")
    grafana.add_argument("action", choices=["render", "deploy"])
    config.add_options(grafana, (config.GRAFANA_URL, config.GRAFANA_TOKEN))
    grafana.add_argument("--dry-run", action="store_true", help="deploy: print what would change, change nothing")
    grafana.set_defaults(handler=_grafana)

    k8s = commands.add_parser("k8s", help="render what k8s/ generates from the code (the KafkaUsers and their ACLs)")
    k8s.add_argument("action", choices=["render"])
    k8s.set_defaults(handler=_k8s)

    alert = commands.add_parser("alerts", help="evaluate the provisioned alert rules against ClickHouse offline")
    alert.add_argument("action", choices=["test"])
    alert.add_argument("--at", type=_parse_time, action="append", required=True, metavar="TIME",
                       help="evaluation time, ISO 8601 (UTC by default) or epoch ms; repeatable")
    alert.add_argument("--rules", default=str(paths.ALERT_RULES_FILE),
                       help="alert-rules provisioning file (default: the rendered one)")
    config.add_options(alert, config.SERVICE_OPTIONS + (config.STATE_DIR,))
    alert.set_defaults(handler=_alerts)

    job_commands.add_parser(commands)
    policy_commands.add_parser(commands, _services, _parse_time)
    guard_command.add_parser(commands)
    audit_command.add_parser(commands, _services, _parse_time)
    explain_command.add_parser(commands, _services, _parse_time)
    bias_command.add_parser(commands, _services, _parse_time)
    report_command.add_parser(commands, _services, _parse_time)
    retention_command.add_parser(commands, _services)
    migrate_command.add_parser(commands)
    forget_command.add_parser(commands, _services)
    trace_command.add_parser(commands, _services, _parse_time)
    cluster_command.add_parser(commands)

    demo = commands.add_parser("demo", help="stack up, run the safety-health job on a generated stream, print what it wrote")
    config.add_options(demo, config.STACK_OPTIONS)
    generator_args.add_options(demo, count=30_000, rate=30.0)
    demo.add_argument("--bounded", action="store_true",
                      help="produce first, then run the job over the backlog and stop (default: run the job "
                           "while the stream is produced, paced to event time)")
    demo.add_argument("--speedup", type=float, default=8.0,
                      help="streaming: event time runs this much faster than real time (about 17 minutes in 2)")
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except RiskstreamError as exc:
        print(f"riskstream: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
