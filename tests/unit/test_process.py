import socket
import sys
import time

import pytest

from riskstream.io import processes
from riskstream.core.errors import PortInUse
from riskstream.stack import process


def test_a_taken_port_gives_an_error_naming_the_env_var():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(PortInUse, match=f"port {port} .*RISKSTREAM_KAFKA_PORT"):
            process.claim_port(port, "Kafka", "RISKSTREAM_KAFKA_PORT")


def test_port_zero_picks_a_free_port():
    port = process.claim_port(0, "Kafka", "RISKSTREAM_KAFKA_PORT")
    assert process.port_is_free(port)


def test_pid_alive_treats_exited_processes_as_dead(tmp_path):
    pid = process.spawn([sys.executable, "-c", "import time; time.sleep(30)"], tmp_path / "x.log")
    assert processes.pid_alive(pid)
    process.terminate(pid, grace_s=5)
    # The child is ours and now a zombie until reaped: it must still count as dead.
    assert not processes.pid_alive(pid)
    assert not processes.pid_alive(None)


def test_the_watchdog_stops_the_recorded_services_when_their_owner_dies(tmp_path):
    from riskstream.io import stack_state
    from riskstream.stack import watchdog

    service = process.spawn([sys.executable, "-c", "import time; time.sleep(300)"], tmp_path / "service.log")
    owner = process.spawn([sys.executable, "-c", "import time; time.sleep(3)"], tmp_path / "owner.log")
    guard = watchdog.start(owner, tmp_path)
    try:
        stack_state.save(tmp_path, {"kafka": stack_state.ServiceRecord(pid=service, address="-", log_path="-")})
        time.sleep(1.5)
        assert processes.pid_alive(service) and processes.pid_alive(guard)  # the owner still lives
        deadline = time.monotonic() + 30
        while processes.pid_alive(service) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not processes.pid_alive(service), (tmp_path / "logs" / "watchdog.log").read_text()
    finally:
        process.terminate(service)
        process.terminate(guard)


def test_the_watchdog_stops_a_recorded_flink_cluster_too(tmp_path):
    import json

    from riskstream.stack import flink_cluster, watchdog

    members = [process.spawn([sys.executable, "-c", "import time; time.sleep(300)"], tmp_path / f"m{i}.log")
               for i in range(3)]
    owner = process.spawn([sys.executable, "-c", "import time; time.sleep(2)"], tmp_path / "owner.log")
    dog = watchdog.start(owner, tmp_path)
    try:
        (tmp_path / flink_cluster.NAME).mkdir()
        (tmp_path / flink_cluster.NAME / "cluster.json").write_text(json.dumps(
            {"jobmanager_pid": members[0], "taskmanager_pids": members[1:]}))
        deadline = time.monotonic() + 30
        while any(processes.pid_alive(m) for m in members) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(processes.pid_alive(m) for m in members), (tmp_path / "logs" / "watchdog.log").read_text()
    finally:
        for pid in (*members, dog):
            process.terminate(pid)


def test_a_child_job_inherits_no_pyflink_state_of_this_process(monkeypatch):
    # What a process holds once a local PyFlink job ran in it: a child job given these would call back
    # into this process's loopback worker pool and run its Python work here.
    for key in ("PYFLINK_GATEWAY_DISABLED", "_PYFLINK_CONN_INFO_PATH", "PYTHON_LOOPBACK_SERVER_ADDRESS",
                "_PYTHON_WORKER_MEMORY_LIMIT", "_python_worker_execution_mode"):
        monkeypatch.setenv(key, "set")
    monkeypatch.setenv("RISKSTREAM_STATE_DIR", "/kept")
    env = processes.job_environment()
    assert not [k for k in env if "PYFLINK" in k or "LOOPBACK" in k or "WORKER" in k.upper()]
    assert env["RISKSTREAM_STATE_DIR"] == "/kept"
