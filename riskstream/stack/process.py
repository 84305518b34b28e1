"""Start, probe and stop one service process: ports, pid, log file, readiness."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from riskstream.core.errors import PortInUse, ServiceFailedToStart
from riskstream.io.processes import free_port, pid_alive


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def claim_port(requested: int, service: str, env_var: str) -> int:
    """The requested port if free, a free one when 0 is requested, else a PortInUse error."""
    if requested == 0:
        return free_port()
    if not port_is_free(requested):
        raise PortInUse(service, requested, env_var)
    return requested


def spawn(command: list[str], log_path: Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> int:
    """Start a detached process (own session, so `stack down` can stop its whole group); return its pid."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, cwd=cwd, start_new_session=True,
        )
    return process.pid


def wait_ready(service: str, pid: int, log_path: Path, probe: Callable[[], bool], timeout_s: float) -> None:
    """Poll `probe` until it says ready; fail fast, pointing at the log, if the process dies or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            raise ServiceFailedToStart(service, str(log_path), "the process exited")
        if probe():
            return
        time.sleep(0.5)
    terminate(pid)
    raise ServiceFailedToStart(service, str(log_path), f"not ready after {timeout_s:.0f}s")


def terminate(pid: int | None, grace_s: float = 15.0) -> None:
    """SIGTERM the process group, then SIGKILL what is still there after the grace period."""
    if not pid_alive(pid):
        return
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.2)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def tail(log_path: Path, lines: int = 20) -> str:
    """The end of a log file, for error messages."""
    try:
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""
