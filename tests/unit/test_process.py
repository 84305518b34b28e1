import socket
import sys

import pytest

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
    assert process.pid_alive(pid)
    process.terminate(pid, grace_s=5)
    # The child is ours and now a zombie until reaped: it must still count as dead.
    assert not process.pid_alive(pid)
    assert not process.pid_alive(None)
