"""Session fixtures: the real local stack, started once through the same code users run, then stopped."""
from __future__ import annotations

import dataclasses
import os

import pytest

from riskstream.core.config import ServiceSettings, StackSettings
from riskstream.cli.demo import local_services
from riskstream.stack import manager, process, watchdog


def pytest_collection_modifyitems(items):
    # The tier is the folder: tests/unit -> unit, tests/integration -> integration, tests/e2e -> e2e.
    for item in items:
        for tier in ("unit", "integration", "e2e"):
            if f"/tests/{tier}/" in str(item.path):
                item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> StackSettings:
    """A private stack on free ports with its own state folder (so it never meets a developer's stack).

    Stopped at the end of the session, also when starting it failed halfway; and a watchdog stops it
    when this process dies without a teardown (killed, interrupted hard)."""
    settings = StackSettings(state_dir=tmp_path_factory.mktemp("stack"), kafka_port=0, kafka_controller_port=0,
                             triton_http_port=0, triton_grpc_port=0, triton_metrics_port=0, registry_port=0,
                             registry_management_port=0, guard_port=0)
    guard = watchdog.start(os.getpid(), settings.state_dir)
    try:
        manager.up(settings)
        yield settings
    finally:
        manager.down(settings)
        process.terminate(guard)


@pytest.fixture(scope="session")
def services(stack: StackSettings) -> ServiceSettings:
    """The stack's services; impressions are kept forever. Tests replay fixed days of 2026, and Kafka's
    retention (by record time, the event time) would delete them mid-test: the job would then find its
    checkpointed offsets out of range and skip to what is left."""
    settings = local_services(stack)
    # Commands run as users run them (`main([...])`, subprocesses) set the topics' configs from their options:
    # the same forever for them, or they would set the impressions topic's retention back to a week.
    os.environ["RISKSTREAM_IMPRESSIONS_RETENTION_HOURS"] = "-1"
    return dataclasses.replace(settings, kafka=dataclasses.replace(settings.kafka, impressions_retention_hours=-1))
