"""A real Triton Inference Server: the `tritonserver` binary PyTriton ships, run on a model repository."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from riskstream.io import processes
from riskstream.core import paths
from riskstream.io import triton_client
from riskstream.core.config import TRITON_GRPC_PORT, TRITON_HTTP_PORT, TRITON_METRICS_PORT, StackSettings
from riskstream.core.errors import MissingTool
from riskstream.stack import process
from riskstream.io.stack_state import ServiceRecord

NAME = "triton"


def _server_site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python3*/site-packages"))
    if not found:
        raise MissingTool(f"the model server environment {venv} is missing: run `make setup`")
    return found[0]


def _backend_directory(triton_home: Path, target: Path) -> Path:
    """A backends folder whose Python backend has the stub built for this Python version.

    PyTriton ships one stub per Python version beside the backend and copies the right one in at run time;
    riskstream links it into a folder of its own instead of changing the installed package.
    """
    python = target / "python"
    python.mkdir(parents=True, exist_ok=True)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    sources = {
        "libtriton_python.so": triton_home / "backends" / "python" / "libtriton_python.so",
        "triton_python_backend_utils.py": triton_home / "backends" / "python" / "triton_python_backend_utils.py",
        "triton_python_backend_stub": triton_home / "python_backend_stubs" / version / "triton_python_backend_stub",
    }
    for name, source in sources.items():
        if not source.exists():
            raise MissingTool(f"{source} is missing: the model server environment is incomplete, run `make setup`")
        link = python / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(source)
    return target


def server_command(settings: StackSettings, http: int, grpc: int, metrics: int) -> tuple[list[str], dict[str, str]]:
    """The tritonserver command line and environment for the model server venv."""
    venv = paths.TRITON_VENV
    site = _server_site_packages(venv)
    triton_home = site / "pytriton" / "tritonserver"
    binary = triton_home / "bin" / "tritonserver"
    if not binary.exists():
        raise MissingTool(f"{binary} is missing: run `make setup` to install the model server environment")
    backends = _backend_directory(triton_home, settings.state_dir / "triton" / "backends")
    env = dict(os.environ)
    # tritonserver links libpython and PyTriton's bundled libraries; the Python-backend stub finds
    # numpy and the model's imports through the first python on PATH, so the server venv leads.
    env["LD_LIBRARY_PATH"] = os.pathsep.join(
        [str(paths.python_libdir()), str(site / "nvidia_pytriton.libs"), env.get("LD_LIBRARY_PATH", "")]).rstrip(":")
    env["PATH"] = os.pathsep.join([str(venv / "bin"), env.get("PATH", "")])
    env.pop("PYTHONPATH", None)
    command = [
        str(binary),
        f"--model-repository={settings.model_repository}",
        f"--backend-directory={backends}",
        f"--http-port={http}", f"--grpc-port={grpc}", f"--metrics-port={metrics}",
        "--http-address=127.0.0.1", "--grpc-address=127.0.0.1", "--metrics-address=127.0.0.1",
        "--exit-on-error=true", "--strict-readiness=true", "--log-verbose=0",
    ]
    if settings.triton_model_config:
        command.append(f"--model-config-name={settings.triton_model_config}")
    command.append(f"--model-control-mode={settings.triton_model_control}")
    if settings.triton_model_control == "explicit":
        command.append("--load-model=*")  # everything in the repository at start, as in the other modes
    elif settings.triton_model_control == "poll":
        command.append("--repository-poll-secs=2")
    return command, env


def start(settings: StackSettings, previous: ServiceRecord | None) -> ServiceRecord:
    """Start tritonserver and wait until every model in the repository is ready (strict readiness)."""
    log_path = settings.state_dir / "logs" / "triton.log"
    ports = {}
    for key, requested, option in (("http", settings.triton_http_port, TRITON_HTTP_PORT),
                                   ("grpc", settings.triton_grpc_port, TRITON_GRPC_PORT),
                                   ("metrics", settings.triton_metrics_port, TRITON_METRICS_PORT)):
        if previous and requested == 0:
            requested = int(previous.details.get(f"{key}_port", 0))
        ports[key] = process.claim_port(requested, f"Triton {key}", option.env)
    command, env = server_command(settings, ports["http"], ports["grpc"], ports["metrics"])
    pid = process.spawn(command, log_path, env=env)
    address = f"127.0.0.1:{ports['grpc']}"
    process.wait_ready("Triton", pid, log_path, lambda: triton_client.is_ready(address), timeout_s=120)
    return ServiceRecord(pid=pid, address=address, log_path=str(log_path),
                         details={f"{key}_port": str(port) for key, port in ports.items()})


def is_healthy(record: ServiceRecord) -> bool:
    return processes.pid_alive(record.pid) and triton_client.is_ready(record.address)
