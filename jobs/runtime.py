"""The Flink environment every riskstream job starts from: connector JARs, Python workers, checkpoints."""
from __future__ import annotations

import logging
import os
import socket
import sys
from pathlib import Path

from pyflink.common import Configuration
from pyflink.datastream import StreamExecutionEnvironment
from pyflink.table import EnvironmentSettings, StreamTableEnvironment

from riskstream.core import retention
from riskstream.core.errors import RiskstreamError
from riskstream.io import jars, java_build


# Set by `riskstream cluster submit` for the job's run record (`riskstream job stop|drain` call it).
CLUSTER_REST_ENV = "RISKSTREAM_FLINK_REST_URL"


def on_cluster() -> bool:
    """Whether a Flink client started this program (`flink run`, application mode): PyFlink then talks to
    the client's JVM, which Flink's PythonDriver names in PYFLINK_GATEWAY_PORT, instead of launching one."""
    return "PYFLINK_GATEWAY_PORT" in os.environ


def local_jars() -> list[Path]:
    """What a local job ships: the pinned connectors and the project's own operators (jobs/keyed.py)."""
    return [*jars.ensure("flink-connectors"), java_build.operators()]


LOG4J_PROPERTIES = Path(__file__).with_name("log4j-job.properties")


def configure_logs(log_dir: Path, run_name: str) -> Path:
    """Give this process's Flink JVM a log file of its own, kept after the run; returns its path.

    PyFlink starts one JVM per Python process, logging to `<log dir>/flink-<ident>-python-<host>.log`
    and overwriting it: with every run sharing one name, the log of a crashed run was lost at the next
    start. The name is only taken when the JVM starts; once it runs, its file is reported as is."""
    from pyflink import java_gateway

    if java_gateway._gateway is None:
        log_dir.mkdir(parents=True, exist_ok=True)
        os.environ["FLINK_LOG_DIR"] = str(log_dir)
        os.environ["FLINK_IDENT_STRING"] = run_name
        os.environ["LOG4J_PROPERTIES"] = str(LOG4J_PROPERTIES)  # appends: see the file
    ident = os.environ.get("FLINK_IDENT_STRING")
    folder = os.environ.get("FLINK_LOG_DIR")
    if not ident or not folder:
        return Path("(PyFlink's default log folder)")
    return Path(folder) / f"flink-{ident}-python-{socket.gethostname()}.log"


def log_project_info() -> None:
    """The project's own INFO lines (e.g. the score cache's counts at close) on this process's stderr;
    Flink, Beam and gRPC keep their own levels."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("jobs", "udfs", "riskstream"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)
            logger.propagate = False


def create(parallelism: int = 1, bundle_size: int = 10_000, bundle_time_ms: int = 100,
           checkpoint_dir: Path | str | None = None, checkpoint_interval_ms: int = 10_000,
           restore_from: str | None = None, restart_attempts: int = 3, rest_port: int = 0,
           extra_jars: tuple[Path, ...] = ()) -> tuple[StreamExecutionEnvironment, StreamTableEnvironment, str]:
    """A streaming environment with the pinned connectors; local runs start a MiniCluster, a program run
    by a Flink client (`on_cluster()`) runs on the client's cluster.

    With `checkpoint_dir` (a folder, or a URI such as s3://...), exactly-once checkpoints are taken every
    interval and retained when the job is cancelled or dies, so `restore_from` (a chk-N or savepoint
    folder) can resume it; without, a cluster's own checkpoint settings apply. Returns the
    environments and the URL of the REST API: a cluster's, or the MiniCluster's on `rest_port`; for port 0
    (a free port, picked as Flink binds it) it is "" until `rest_url` reads it from the submitted job.
    """
    config = Configuration()
    if on_cluster():
        # `flink run` or a FlinkDeployment's PythonDriver: the cluster is Flink's, and so is its REST API.
        rest_url = os.environ.get(CLUSTER_REST_ENV, "")
    else:
        # Port 0: the operating system picks a free one as Flink binds it (a port chosen beforehand can be
        # taken by another process before Flink binds it); `rest_url` asks the MiniCluster which it got.
        config.set_string("rest.address", "127.0.0.1")
        config.set_string("rest.bind-address", "127.0.0.1")
        config.set_string("rest.port", str(rest_port))
        rest_url = f"http://127.0.0.1:{rest_port}" if rest_port else ""
    if checkpoint_dir is not None:
        config.set_string("execution.checkpointing.interval", f"{checkpoint_interval_ms} ms")
        config.set_string("execution.checkpointing.mode", "EXACTLY_ONCE")
        location = checkpoint_dir if isinstance(checkpoint_dir, str) else Path(checkpoint_dir).resolve().as_uri()
        config.set_string("execution.checkpointing.dir", location)
        config.set_string("execution.checkpointing.externalized-checkpoint-retention", "RETAIN_ON_CANCELLATION")
        config.set_string("execution.checkpointing.num-retained", str(retention.CHECKPOINTS_RETAINED))
    # A bug or a dead dependency must end the job after a few tries, not restart it forever.
    config.set_string("restart-strategy.type", "fixed-delay")
    config.set_string("restart-strategy.fixed-delay.attempts", str(restart_attempts))
    config.set_string("restart-strategy.fixed-delay.delay", "2 s")
    if restore_from:
        config.set_string("execution.state-recovery.path", restore_from)
    # A cluster has the connectors and the project's operators on its classpath (the job image's usrlib/,
    # `riskstream cluster`'s lib/): a job there fetches and builds nothing.
    shipped = [*extra_jars] if on_cluster() else [*local_jars(), *extra_jars]
    if shipped:
        config.set_string("pipeline.jars", ";".join(p.resolve().as_uri() for p in shipped))
    # Python workers run the interpreter of this process, so they see the same packages.
    config.set_string("python.executable", sys.executable)
    config.set_string("python.client.executable", sys.executable)
    # Bigger bundles amortise the JVM<->Python hop; measured as the setting that matters for UDF throughput.
    config.set_string("python.fn-execution.bundle.size", str(bundle_size))
    config.set_string("python.fn-execution.arrow.batch.size", str(min(bundle_size, 4096)))
    # A bundle also ends after this long, and every Python operator in the chain holds records and
    # watermarks until its bundle ends (the README's bench compares 100 ms with Flink's 1 s default).
    config.set_string("python.fn-execution.bundle.time", str(bundle_time_ms))
    env = StreamExecutionEnvironment.get_execution_environment(config)
    env.set_parallelism(parallelism)
    t_env = StreamTableEnvironment.create(env, environment_settings=EnvironmentSettings.in_streaming_mode())
    # SQL times without a zone (a window's bounds) are UTC, as every table the jobs write is.
    t_env.get_config().set("table.local-time-zone", "UTC")
    return env, t_env, rest_url


def rest_url(job_client, configured: str, timeout_ms: int = 60_000) -> str:
    """The REST URL of a submitted job's cluster: `configured` if known, else the port its MiniCluster bound."""
    if configured:
        return configured
    from pyflink.java_gateway import get_gateway

    found = get_gateway().jvm.dev.riskstream.flink.LocalRestAddress.of(job_client._j_job_client, timeout_ms)
    if not found:
        raise RiskstreamError(f"no REST address for job {job_client.get_job_id()}: not a local MiniCluster job "
                              f"and none configured")
    return str(found)


def stop(job_client, savepoint_dir: Path, drain: bool) -> str:
    """Stop a running job with a final savepoint and return its path. With `drain`, event time is first
    advanced to the end so every window fires; without, the job stops where its watermark is and the
    savepoint keeps the open windows. (PyFlink's own wrapper misses Flink 2's format argument.)"""
    from pyflink.java_gateway import get_gateway

    canonical = get_gateway().jvm.org.apache.flink.core.execution.SavepointFormatType.CANONICAL
    return job_client._j_job_client.stopWithSavepoint(drain, Path(savepoint_dir).resolve().as_uri(), canonical).get()


def drain(job_client, savepoint_dir: Path) -> str:
    """Stop a running job after every window has fired; returns the savepoint path."""
    return stop(job_client, savepoint_dir, drain=True)
