"""`riskstream guard serve`: the guard in the recommendation path, over HTTP (see `riskstream.guard.app`)."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from riskstream.core import config, guard_config


def add_parser(commands) -> None:
    guard = commands.add_parser("guard", help="serve the guard: which candidates a recommender may serve, and why")
    actions = guard.add_subparsers(dest="guard_action", required=True)
    serve = actions.add_parser("serve", help="follow item-verdicts, breaker-state and policies; answer over HTTP")
    config.add_options(serve, config.KAFKA_OPTIONS + (config.STATE_DIR,) + guard_config.GUARD_OPTIONS)
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from riskstream.guard.app import create_app
    from riskstream.guard.service import Guard
    from riskstream.io import kafka_admin, topics
    from riskstream.io import stack_state as state

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    kafka = config.kafka_settings(args, state.addresses(Path(args.state_dir)))
    settings = guard_config.guard_settings(args)
    kafka_admin.require_ready(kafka)  # fails fast, naming the address tried
    kafka_admin.ensure_topics(kafka, topics.guard_topics(kafka))
    service = Guard(kafka, settings)
    # One process, one event loop: decisions are microseconds of dict lookups; uvloop and httptools keep
    # the HTTP overhead low (see bench.guard for the latency this gives).
    uvicorn.run(create_app(service), host=settings.host, port=settings.port, log_level="warning",
                access_log=False, loop="uvloop", http="httptools")
    return 0
