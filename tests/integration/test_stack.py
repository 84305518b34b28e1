"""The local stack through the code users run: up, status, a service killed, up again, bad set-ups."""
from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys

from riskstream.io import kafka_admin, triton_client
from riskstream.io import stack_state as state
from riskstream.stack import manager, process


def _statuses(stack):
    return {s.name: s for s in manager.status(stack)}


def test_every_service_is_up_and_answers(stack, services):
    statuses = _statuses(stack)
    assert all(s.healthy for s in statuses.values()), [s.line for s in statuses.values()]
    assert kafka_admin.is_ready(services.kafka.bootstrap_servers)
    assert triton_client.is_ready(services.triton.url)


def test_starting_twice_is_harmless(stack):
    before = state.load(stack.state_dir)
    report = manager.up(stack)
    after = state.load(stack.state_dir)
    assert any(line.startswith("kafka: already up") for line in report)
    assert any(line.startswith("triton: already up") for line in report)
    assert any(line.startswith("registry: already up") for line in report)
    assert any(line.startswith("guard: already up") for line in report)
    for name in ("kafka", "registry", "triton", "guard"):
        assert before[name].pid == after[name].pid, name


def test_a_killed_service_is_named_by_status_and_up_brings_it_back(stack):
    for name in ("kafka", "registry", "triton", "guard"):
        record = state.load(stack.state_dir)[name]
        os.killpg(record.pid, signal.SIGKILL)
        process.terminate(record.pid, grace_s=5)  # reaps nothing, but waits until it is gone
        statuses = _statuses(stack)
        assert not statuses[name].healthy
        assert f"{name}: DOWN" in statuses[name].line and record.log_path in statuses[name].line
        others = [s for n, s in statuses.items() if n != name]
        assert all(s.healthy for s in others), [s.line for s in others]
        manager.up(stack)
        assert all(s.healthy for s in manager.status(stack))


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "riskstream.cli.main", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def test_a_port_in_use_gives_a_one_line_error_saying_what_to_do(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        env = {**os.environ, "RISKSTREAM_STATE_DIR": str(tmp_path), "RISKSTREAM_KAFKA_PORT": str(port)}
        result = _cli(["stack", "up"], env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"port {port} on 127.0.0.1 (for Kafka) is in use" in lines[0]
    assert "RISKSTREAM_KAFKA_PORT" in lines[0]


def test_missing_java_gives_a_one_line_error_saying_what_to_do(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(sys.executable, bin_dir / "python")
    env = {**os.environ, "PATH": str(bin_dir), "RISKSTREAM_STATE_DIR": str(tmp_path / "state"),
           "RISKSTREAM_KAFKA_PORT": "0", "RISKSTREAM_KAFKA_CONTROLLER_PORT": "0"}
    result = _cli(["stack", "up"], env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "java was not found on PATH" in lines[0] and "Java 17" in lines[0]


def test_status_of_a_stack_never_started_says_how_to_start_it(tmp_path, stack):
    fresh = dataclasses.replace(stack, state_dir=tmp_path)
    lines = [s.line for s in manager.status(fresh)]
    assert all("DOWN" in line for line in lines)
    assert "run `riskstream stack up`" in lines[0]


def test_kafka_formats_its_storage_with_a_cluster_id_that_starts_with_a_dash(tmp_path, monkeypatch):
    """One random cluster id in 64 starts with "-"; the storage tool once read it as a flag."""
    from riskstream.core.config import StackSettings
    from riskstream.stack import kafka

    monkeypatch.setattr(kafka, "new_cluster_id", lambda: "-" + "A" * 21)
    settings = StackSettings(state_dir=tmp_path, kafka_port=0, kafka_controller_port=0)
    record = kafka.start(settings, None)
    try:
        assert kafka_admin.is_ready(record.address)
        assert "cluster.id=-AAAA" in (tmp_path / "kafka" / "data" / "meta.properties").read_text()
    finally:
        process.terminate(record.pid, grace_s=10)
