"""`riskstream stack up|down|status`: the local stack as one unit, each service checked on its own."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

from riskstream.io import processes
from riskstream.io import clickhouse, job_runs
from riskstream.core.config import ClickHouseSettings, StackSettings
from riskstream.core.errors import RiskstreamError
from riskstream.io import stack_state as state
from riskstream.stack import guard, kafka, process, registry, triton
from riskstream.io.stack_state import ServiceRecord

# In start order: the guard follows Kafka's topics.
PROCESS_SERVICES = {kafka.NAME: kafka, registry.NAME: registry, triton.NAME: triton, guard.NAME: guard}
CLICKHOUSE = "clickhouse"


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    healthy: bool
    line: str


def up(settings: StackSettings) -> list[str]:
    """Start what is not running; a service that is up and healthy is left alone."""
    records = state.load(settings.state_dir)
    report = []
    for name, module in PROCESS_SERVICES.items():
        previous = records.get(name)
        if previous and _healthy_soon(module, previous):
            report.append(f"{name}: already up at {previous.address}")
            continue
        if previous:
            process.terminate(previous.pid)  # a half-dead earlier run must not hold ports
        records[name] = module.start(settings, previous)
        state.save(settings.state_dir, records)
        report.append(f"{name}: up at {records[name].address} (log {records[name].log_path})")
    records[CLICKHOUSE] = _clickhouse_up(settings, records.get(CLICKHOUSE))
    state.save(settings.state_dir, records)
    details = records[CLICKHOUSE].details
    held = f", held by {details['held_by']} (it applies the schema)" if details.get("held_by") else ""
    report.append(f"{CLICKHOUSE}: embedded at {records[CLICKHOUSE].address}, "
                  f"schema version {details['schema_version']}{held}")
    return report


def _holder(settings: StackSettings) -> str | None:
    """Who has the embedded path open, as users know it: a recorded job run, else a PID and command."""
    holder = clickhouse.embedded_holder(settings.clickhouse_path)
    if holder is None or holder.pid == os.getpid():
        return None
    run = job_runs.owning_run(settings.state_dir, holder.pid)
    if run is not None:
        return f"job {run.job_id} PID {run.pid}"
    return f"PID {holder.pid} ({holder.command})"


def _healthy_soon(module, record: ServiceRecord, wait_s: float = 20.0) -> bool:
    """Healthy now, or within `wait_s` while its process lives: a service slow to answer on a busy
    machine (a job starting beside it) is not restarted, which would cut off whoever uses it."""
    deadline = time.monotonic() + wait_s
    while True:
        if module.is_healthy(record):
            return True
        if not processes.pid_alive(record.pid) or time.monotonic() > deadline:
            return False
        time.sleep(1.0)


def _clickhouse_up(settings: StackSettings, previous: ServiceRecord | None) -> ServiceRecord:
    ch = ClickHouseSettings(url=settings.clickhouse_url)
    holder = _holder(settings)
    if holder:
        # A running job owns the path and applies the schema itself when it opens it (jobs.clickhouse_sink).
        version = (previous.details.get("schema_version", "?") if previous else "?")
        return ServiceRecord(pid=None, address=settings.clickhouse_url, log_path="",
                             details={"schema_version": version, "held_by": holder})
    client = clickhouse.connect(ch, database=ch.database)
    try:
        clickhouse.migrate(client)
        version = clickhouse.schema_version(client)
    finally:
        client.close()
    return ServiceRecord(pid=None, address=settings.clickhouse_url, log_path="",
                         details={"schema_version": str(version)})


def down(settings: StackSettings) -> list[str]:
    """Stop every service process; data stays in the state folder."""
    records = state.load(settings.state_dir)
    report = []
    for name in reversed(list(PROCESS_SERVICES)):  # the guard before the Kafka it follows
        record = records.pop(name, None)
        if record is None:
            report.append(f"{name}: not started")
            continue
        process.terminate(record.pid)
        report.append(f"{name}: stopped")
    state.save(settings.state_dir, records)
    return report


def status(settings: StackSettings) -> list[ServiceStatus]:
    """One line per service saying whether it is up, and if not, where to look."""
    records = state.load(settings.state_dir)
    result = []
    for name, module in PROCESS_SERVICES.items():
        record = records.get(name)
        if record is None:
            result.append(ServiceStatus(name, False, f"{name}: DOWN (not started; run `riskstream stack up`)"))
        elif not processes.pid_alive(record.pid):
            result.append(ServiceStatus(name, False, f"{name}: DOWN (pid {record.pid} is not running; "
                                                     f"log {record.log_path})"))
        elif not module.is_healthy(record):
            result.append(ServiceStatus(name, False, f"{name}: UNHEALTHY at {record.address} (pid {record.pid} "
                                                     f"runs but does not answer; log {record.log_path})"))
        else:
            result.append(ServiceStatus(name, True, f"{name}: up at {record.address} (pid {record.pid})"))
    result.append(_clickhouse_status(settings, records.get(CLICKHOUSE)))
    return result


def _clickhouse_status(settings: StackSettings, record: ServiceRecord | None) -> ServiceStatus:
    if record is None:
        return ServiceStatus(CLICKHOUSE, False, f"{CLICKHOUSE}: DOWN (schema not applied; run `riskstream stack up`)")
    path = settings.clickhouse_path
    if not path.exists():
        return ServiceStatus(CLICKHOUSE, False, f"{CLICKHOUSE}: DOWN (data folder {path} is missing)")
    holder = _holder(settings)
    if holder:
        return ServiceStatus(CLICKHOUSE, True, f"{CLICKHOUSE}: embedded at {record.address}, held by {holder}")
    try:
        client = clickhouse.connect(ClickHouseSettings(url=settings.clickhouse_url), database="riskstream")
        client.close()
    except RiskstreamError as exc:
        return ServiceStatus(CLICKHOUSE, False, f"{CLICKHOUSE}: DOWN ({exc})")
    return ServiceStatus(CLICKHOUSE, True, f"{CLICKHOUSE}: embedded at {record.address}")
