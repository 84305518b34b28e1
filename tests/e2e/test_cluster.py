"""The safety-health job on a real multi-process Flink cluster: a standalone JobManager and two TaskManagers
(each its own JVM), the job submitted with `flink run -pym jobs.safety_health -pyfs <project>` at
parallelism 2, as the FlinkDeployment's PythonDriver runs it; every row equals the reference."""
from __future__ import annotations

import dataclasses
import os

import requests

from riskstream.core.job_config import format_offsets
from riskstream.stack import flink_cluster, process, watchdog
from tests.e2e import reference, stream

START_MS = 1_767_916_800_000  # 2026-01-09T00:00:00Z


def _taskmanagers_used(rest_url: str, job_id: str) -> set[str]:
    vertices = requests.get(f"{rest_url}/jobs/{job_id}", timeout=10).json()["vertices"]
    used = set()
    for vertex in vertices:
        found = requests.get(f"{rest_url}/jobs/{job_id}/vertices/{vertex['id']}/taskmanagers", timeout=10).json()
        used |= {tm["taskmanager-id"] for tm in found["taskmanagers"]}
    return used


def test_the_job_at_parallelism_2_on_two_taskmanagers_writes_the_reference_rows(services, stack, tmp_path):
    cluster_stack = dataclasses.replace(stack, state_dir=tmp_path / "cluster")
    dog = watchdog.start(os.getpid(), cluster_stack.state_dir)  # stops the cluster if this session is killed
    cluster = flink_cluster.up(cluster_stack, taskmanagers=2, slots=1)
    try:
        records = stream.records(91, 1800, START_MS, rate=10.0)
        start = stream.offsets(services)
        positions = stream.send(services, records)
        end = stream.offsets(services)
        kafka, ch = services.kafka, services.clickhouse
        flink_cluster.submit(cluster, [
            "--kafka-bootstrap", kafka.bootstrap_servers, "--triton-url", services.triton.url,
            "--clickhouse-url", ch.url, "--schema-registry-url", services.registry.url,
            "--start-offsets", format_offsets(start), "--end-offsets", format_offsets(end), "--bounded",
            "--parallelism", "2", "--job-id", "e2e-cluster", "--checkpoint-dir", str(tmp_path / "checkpoints"),
            "--state-dir", str(tmp_path / "runs")], parallelism=2, log_path=tmp_path / "submit.log")
        [job] = [j for j in requests.get(f"{cluster.rest_url}/jobs/overview", timeout=10).json()["jobs"]
                 if j["name"] == "e2e-cluster"]
        assert job["state"] == "FINISHED"
        # Two TaskManager processes ran the job's tasks, not one.
        assert len(_taskmanagers_used(cluster.rest_url, job["jid"])) == 2
        # The connectors and the project's operators came from the cluster's classpath, as in the job
        # image; the job shipped no JAR of its own (it would fetch with Maven and build with javac).
        settings = {e["key"]: e["value"] for e in requests.get(
            f"{cluster.rest_url}/jobs/{job['jid']}/jobmanager/config", timeout=10).json()}
        assert ".cache/jars" not in settings.get("pipeline.jars", ""), settings.get("pipeline.jars")
    finally:
        flink_cluster.down(cluster_stack)
        process.terminate(dog)
    reference.assert_rows_equal(services, "e2e-cluster", records, positions)
