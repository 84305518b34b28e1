"""Facts about local processes and ports that jobs, the CLI and the stack all ask about."""
from __future__ import annotations

import os
import socket
from pathlib import Path


def pid_alive(pid: int | None) -> bool:
    """True while the process runs; a zombie (exited, not yet reaped) counts as dead."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def ancestors(pid: int) -> list[int]:
    """The parent, grandparent, ... of a process, up to (not including) init."""
    chain = []
    while pid > 1 and len(chain) < 64:
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            break
        if pid > 1:
            chain.append(pid)
    return chain


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Set in a process once a local PyFlink job has run in it: the gateway ("already running", or "disabled")
# and the loopback worker pool's address, which a child job's Python workers would otherwise call back
# into, running their Python work in this process instead of their own.
_PYFLINK_STATE = ("PYFLINK_", "PYTHON_LOOPBACK_SERVER_ADDRESS", "PYTHON_WORKER_", "python_worker_")


def job_environment() -> dict[str, str]:
    """This process's environment without PyFlink's state, for a job started as a child."""
    return {k: v for k, v in os.environ.items() if not k.lstrip("_").startswith(_PYFLINK_STATE)}
