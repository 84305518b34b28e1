"""A standalone Flink cluster on this machine: one JobManager and N TaskManagers as separate processes,
from the Flink distribution the apache-flink wheel ships (its `bin/`, `lib/`, `opt/`), and jobs submitted
to it with `flink run` the way a FlinkDeployment's PythonDriver runs them.

Each process runs in the foreground of its own session (`jobmanager.sh start-foreground`), so its log is
its output and `down` stops its whole group. Configuration lives in the state folder, never in the wheel.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import requests

from riskstream.core import paths
from riskstream.core.config import StackSettings
from riskstream.core.errors import RiskstreamError, ServiceFailedToStart
from riskstream.io import jars, java_build, processes
from riskstream.stack import process

CLUSTER_REST_ENV = "RISKSTREAM_FLINK_REST_URL"  # jobs.runtime reads it (the job's run record)

NAME = "flink-cluster"
CONF_FILES = ("log4j-console.properties", "log4j-cli.properties", "logback-console.xml")


@dataclass(frozen=True)
class Cluster:
    rest_url: str
    jobmanager_pid: int
    taskmanager_pids: tuple[int, ...]
    conf_dir: str
    log_dir: str


def _folder(settings: StackSettings) -> Path:
    return settings.state_dir / NAME


def _record_path(settings: StackSettings) -> Path:
    return _folder(settings) / "cluster.json"


def recorded_pids(state_dir: Path) -> list[int]:
    """The TaskManagers' and JobManager's PIDs of the cluster recorded under a state folder (none recorded: [])."""
    path = Path(state_dir) / NAME / "cluster.json"
    if not path.exists():
        return []
    record = json.loads(path.read_text())
    return [*record["taskmanager_pids"], record["jobmanager_pid"]]


def _configuration(rest_port: int, rpc_port: int, slots: int) -> str:
    """Flat keys in config.yaml, which Flink 2 reads as it reads nested ones."""
    settings = {
        "jobmanager.rpc.address": "localhost", "jobmanager.rpc.port": rpc_port, "jobmanager.bind-host": "localhost",
        "taskmanager.bind-host": "localhost", "taskmanager.host": "localhost",
        "rest.address": "localhost", "rest.bind-address": "localhost", "rest.port": rest_port,
        "jobmanager.memory.process.size": "1024m", "taskmanager.memory.process.size": "1728m",
        "taskmanager.numberOfTaskSlots": slots, "parallelism.default": 1,
        # The Python workers, on this machine, run the project's interpreter (the one with its packages).
        "python.executable": sys.executable, "python.client.executable": sys.executable,
    }
    default = (paths.pyflink_home() / "conf" / "config.yaml").read_text()
    java_opts = next(line.split("all:", 1)[1].strip() for line in default.splitlines() if line.strip().startswith("all:"))
    lines = [f"env.java.opts.all: {java_opts}"] + [f"{key}: {json.dumps(value)}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def _overview(rest_url: str) -> dict | None:
    try:
        return requests.get(f"{rest_url}/overview", timeout=2).json()
    except (requests.RequestException, ValueError):
        return None


# What the cluster's processes and its client inherit from the process that starts them: nothing of
# PyFlink's. A process that ran a local job holds PyFlink's loopback worker pool, and a cluster started
# from it with its environment had TaskManagers run Python work in that process (its os.environ then
# held theirs), which is neither a cluster nor harmless.
_INHERITED = ("PATH", "HOME", "USER", "LANG", "LC_ALL", "TZ", "TMPDIR", "JAVA_HOME")


def _clean_environment() -> dict[str, str]:
    import os

    return {key: os.environ[key] for key in _INHERITED if key in os.environ}


def _lib(folder: Path) -> Path:
    """The distribution's lib/ plus opt/flink-python (Python jobs need it on the cluster's classpath, as the
    official image's PyFlink instructions put it there; the wheel keeps it in opt/), the verified connector
    JARs and the project's operators: a cluster provides them, as the job image does from usrlib/, and a
    job on a cluster names none itself (jobs.runtime.create)."""
    lib = folder / "lib"
    if lib.exists():
        shutil.rmtree(lib)
    lib.mkdir(parents=True)
    for jar in [*(paths.pyflink_home() / "lib").glob("*.jar"), java_build.flink_jar("opt/flink-python-*.jar"),
                *jars.ensure("flink-connectors"), java_build.operators()]:
        (lib / jar.name).symlink_to(jar)
    return lib


def up(settings: StackSettings, taskmanagers: int = 2, slots: int = 1, timeout_s: float = 120.0) -> Cluster:
    """Start the JobManager, then the TaskManagers, and wait until every TaskManager has registered."""
    found = status(settings)
    if found is not None:
        return found
    folder = _folder(settings)
    conf_dir, log_dir = folder / "conf", settings.state_dir / "logs" / NAME
    conf_dir.mkdir(parents=True, exist_ok=True)
    for name in CONF_FILES:
        shutil.copy(paths.pyflink_home() / "conf" / name, conf_dir / name)
    rest_port, rpc_port = processes.free_port(), processes.free_port()
    (conf_dir / "config.yaml").write_text(_configuration(rest_port, rpc_port, slots))
    env = {**_clean_environment(), "FLINK_HOME": str(paths.pyflink_home()), "FLINK_CONF_DIR": str(conf_dir),
           "FLINK_LIB_DIR": str(_lib(folder)), "FLINK_LOG_DIR": str(log_dir)}
    bin_dir = paths.pyflink_home() / "bin"
    rest_url = f"http://localhost:{rest_port}"
    jobmanager = process.spawn(["bash", str(bin_dir / "jobmanager.sh"), "start-foreground"],
                               log_dir / "jobmanager.log", env=env)
    process.wait_ready("Flink JobManager", jobmanager, log_dir / "jobmanager.log",
                       lambda: _overview(rest_url) is not None, timeout_s)
    workers = tuple(process.spawn(["bash", str(bin_dir / "taskmanager.sh"), "start-foreground"],
                                  log_dir / f"taskmanager-{n}.log", env=env) for n in range(taskmanagers))
    cluster = Cluster(rest_url, jobmanager, workers, str(conf_dir), str(log_dir))
    _record_path(settings).write_text(json.dumps(asdict(cluster)))
    deadline = time.monotonic() + timeout_s
    while (_overview(rest_url) or {}).get("taskmanagers", 0) < taskmanagers:
        if time.monotonic() > deadline:
            down(settings)
            raise ServiceFailedToStart("Flink TaskManagers", str(log_dir), f"{taskmanagers} did not register")
        time.sleep(0.5)
    return cluster


def status(settings: StackSettings) -> Cluster | None:
    """The running cluster recorded in the state folder, if its JobManager still answers."""
    path = _record_path(settings)
    if not path.exists():
        return None
    cluster = Cluster(**{**json.loads(path.read_text()),
                         "taskmanager_pids": tuple(json.loads(path.read_text())["taskmanager_pids"])})
    if processes.pid_alive(cluster.jobmanager_pid) and _overview(cluster.rest_url) is not None:
        return cluster
    return None


def down(settings: StackSettings) -> None:
    path = _record_path(settings)
    if not path.exists():
        return
    for pid in recorded_pids(settings.state_dir):
        process.terminate(pid, grace_s=10)
    path.unlink()


def _shipped(folder: Path) -> Path:
    """The folder -pyfs ships: the job wiring and its pure logic (`jobs/`, `udfs/`), as the job image holds
    them; everything else the workers import is the installed package. Not the project root, whose
    environments and caches would make a blob over Flink's 2 GB limit."""
    target = folder / "pyfs"
    if target.exists():
        shutil.rmtree(target)
    for package in ("jobs", "udfs"):
        shutil.copytree(paths.REPO_ROOT / package, target / package, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def submit(cluster: Cluster, job_args: list[str], parallelism: int, module: str = "jobs.safety_health",
           log_path: Path | None = None, timeout_s: float = 900.0) -> subprocess.CompletedProcess:
    """`flink run` a Python job module, attached, as a FlinkDeployment's PythonDriver runs it: `jobs/` and
    `udfs/` shipped with -pyfs, the module with -pym; the connector JARs and the project's operators are on the
    cluster's classpath (`_lib`), as in the job image."""
    command = [str(paths.pyflink_home() / "bin" / "flink"), "run", "-m", cluster.rest_url.removeprefix("http://"),
               "-p", str(parallelism), "-pyclientexec", sys.executable, "-pyexec", sys.executable,
               "-pyfs", str(_shipped(Path(cluster.conf_dir).parent)), "-pym", module]
    env = {**_clean_environment(), "FLINK_HOME": str(paths.pyflink_home()), "FLINK_CONF_DIR": cluster.conf_dir,
           "FLINK_LIB_DIR": str(Path(cluster.conf_dir).parent / "lib"), CLUSTER_REST_ENV: cluster.rest_url}
    result = subprocess.run(command + list(job_args), capture_output=True, text=True, env=env, cwd=paths.REPO_ROOT,
                            timeout=timeout_s)
    if log_path is not None:
        log_path.write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise RiskstreamError(f"flink run {module} failed (exit {result.returncode}): "
                              f"{(result.stdout + result.stderr)[-2000:]}")
    return result
