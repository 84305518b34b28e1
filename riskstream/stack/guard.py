"""The local guard service (`riskstream guard serve`) as a stack process, following the stack's Kafka."""
from __future__ import annotations

import sys
from pathlib import Path

import requests

from riskstream.core.config import GUARD_PORT, KafkaSettings, StackSettings
from riskstream.io import kafka_admin, processes, topics
from riskstream.io import stack_state as state
from riskstream.io.stack_state import ServiceRecord
from riskstream.stack import kafka, kafka_users, process

NAME = "guard"


def url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def is_ready(address: str) -> bool:
    try:
        return requests.get(f"{address}/readyz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def spawn(bootstrap: str, port: int, log_path: Path, extra_args: tuple[str, ...] = (),
          timeout_s: float = 120.0, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Start a guard on `port` and wait until it has read its topics; returns (pid, its URL). `env`: the
    environment that carries its Kafka credentials, where the broker wants them."""
    command = [sys.executable, "-m", "riskstream.cli.main", "guard", "serve", "--kafka-bootstrap", bootstrap,
               "--port", str(port), *extra_args]
    pid = process.spawn(command, log_path, env=env)
    address = url(port)
    process.wait_ready("guard", pid, log_path, lambda: is_ready(address), timeout_s=timeout_s)
    return pid, address


def start(settings: StackSettings, previous: ServiceRecord | None) -> ServiceRecord:
    """Start the guard on the stack's Kafka (started before it) and wait until it is ready."""
    port = settings.guard_port
    if previous and port == 0:
        port = int(previous.details.get("port", 0))
    port = process.claim_port(port, "guard", GUARD_PORT.env)
    log_path = settings.state_dir / "logs" / "guard.log"
    broker = state.load(settings.state_dir)["kafka"]
    env = None
    if broker.details.get("auth") == "scram":
        # The guard may read its topics, not create them: the admin does, as the Topic Operator on Kubernetes.
        kafka_admin.ensure_topics(kafka.admin_settings(broker), topics.guard_topics(KafkaSettings(broker.address)))
        env = kafka_users.environment(settings.state_dir, "riskstream-guard")
    pid, address = spawn(broker.address, port, log_path, ("--state-dir", str(settings.state_dir)), env=env)
    return ServiceRecord(pid=pid, address=address, log_path=str(log_path), details={"port": str(port)})


def is_healthy(record: ServiceRecord) -> bool:
    return processes.pid_alive(record.pid) and is_ready(record.address)
