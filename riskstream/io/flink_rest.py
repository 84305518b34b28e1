"""Flink's REST API, the few calls operating a job needs: its state, stop with a savepoint, its restore.

The same calls work against a local MiniCluster (the job process opens its REST port) and a session or
application cluster on Kubernetes. https://nightlies.apache.org/flink/flink-docs-stable/docs/ops/rest_api/
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import requests

from riskstream.core.errors import RiskstreamError, ServiceUnavailable

# Tasks in these states take part in a checkpoint; any other (CREATED, SCHEDULED, DEPLOYING, INITIALIZING
# while restoring state) makes Flink refuse a savepoint with "Not all required tasks are currently running".
_READY = {"RUNNING", "FINISHED"}
# Refusals that pass once the tasks are up: the first while some task is not RUNNING, the second while a
# RUNNING task has not finished opening its operators (the ingest UDF opens Triton, the registry and
# the policies topic first).
# The third when the savepoint is triggered as a task finishes (a bounded source at its end, such as the
# writer's one-element opening source): the task is gone from its TaskManager; the next try leaves it out.
_NOT_YET_READY = ("Not all required tasks are currently running", "Checkpoint was declined (tasks not ready)",
                  "received a checkpoint request for unknown task")


_TASK_LOCAL = "Task local checkpoint failure"
# A task that finishes when a checkpoint completes shows FINISHED in the JobManager's view well within this.
SETTLE_MS = 1000


def not_ready(job: dict) -> dict[str, int]:
    """Task counts by state, from Flink's job details, of tasks that cannot take part in a checkpoint."""
    if job.get("state") != "RUNNING":
        return {f"job {job.get('state')}": 1}
    waiting: dict[str, int] = {}
    for vertex in job.get("vertices", []):
        for state, count in vertex.get("tasks", {}).items():
            if count and state not in _READY:
                waiting[state] = waiting.get(state, 0) + count
    return waiting


def unsettled(job: dict, checkpoints: dict) -> str | None:
    """What a savepoint must still wait for, from Flink's job details and checkpoint statistics; None: nothing.

    Every task must run, and the first checkpoint since the tasks (re)started must have completed at
    least `SETTLE_MS` ago. A bounded source (the writer's one-element opening source) finishes right
    after the first checkpoint that follows its last record; a savepoint triggered in those milliseconds
    reaches a TaskManager that no longer knows the task, and Flink fails the stop and restarts the job.
    """
    waiting = not_ready(job)
    if waiting:
        return f"tasks to run: {waiting}"
    started = max((int(vertex.get("start-time", -1)) for vertex in job.get("vertices", [])), default=-1)
    latest = checkpoints.get("latest") or {}
    acks = [int(c["latest_ack_timestamp"]) for c in [*checkpoints.get("history", []), latest.get("completed") or {}]
            if c.get("status") == "COMPLETED" and int(c.get("trigger_timestamp", -1)) >= started]
    if not acks:
        return "a first checkpoint since the tasks started"
    if int(job.get("now", 0)) - min(acks) < SETTLE_MS:
        return "tasks that finish at the first checkpoint"
    return None


@dataclass(frozen=True)
class Restored:
    """What a job restored from at its start, per Flink's checkpoint statistics."""

    checkpoint_id: int
    external_path: str
    is_savepoint: bool


class FlinkRest:
    def __init__(self, url: str, timeout_s: float = 10.0):
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s

    def _call(self, method: str, path: str, **kwargs) -> dict:
        try:
            response = requests.request(method, f"{self.url}{path}", timeout=self.timeout_s, **kwargs)
        except requests.RequestException as exc:
            raise ServiceUnavailable("Flink REST API", self.url, type(exc).__name__) from exc
        if response.status_code >= 400:
            raise RiskstreamError(f"Flink REST {method} {path} answered {response.status_code}: {response.text[:500]}")
        return response.json()

    def job(self, flink_job_id: str) -> dict:
        return self._call("GET", f"/jobs/{flink_job_id}")

    def not_ready_tasks(self, flink_job_id: str) -> dict[str, int]:
        """Task counts by state for tasks that cannot yet take part in a checkpoint (empty: all can)."""
        return not_ready(self.job(flink_job_id))

    def wait_all_running(self, flink_job_id: str, timeout_s: float = 120.0) -> None:
        """Until every task runs (a job just restored spends a while INITIALIZING); an error saying which
        tasks did not, after `timeout_s`."""
        self._wait(flink_job_id, timeout_s, lambda job: not_ready(job) or None)

    def wait_settled(self, flink_job_id: str, timeout_s: float = 120.0) -> None:
        """Until a savepoint can be taken without racing a finishing task (see `unsettled`)."""
        self._wait(flink_job_id, timeout_s,
                   lambda job: unsettled(job, self._call("GET", f"/jobs/{flink_job_id}/checkpoints")))

    def _wait(self, flink_job_id: str, timeout_s: float, awaited) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            waiting = awaited(self.job(flink_job_id))
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise RiskstreamError(f"job {flink_job_id} at {self.url}: still waiting after {timeout_s:.0f}s "
                                      f"for {waiting}")
            time.sleep(0.5)

    def stop_with_savepoint(self, flink_job_id: str, savepoint_dir: Path, drain: bool,
                            timeout_s: float = 300.0) -> str:
        """Stop the job with a final savepoint in `savepoint_dir`; returns the savepoint's location.

        With `drain`, event time is first advanced to the end so every window fires; without, open
        windows stay in the savepoint for a resumed job to complete. Waits until the job has settled
        (`unsettled`) first, and tries again while Flink says a task was not ready. A refused stop fails
        the job's tasks and the job restarts from its latest checkpoint (Flink's choice), so a retry
        loses nothing."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.wait_settled(flink_job_id, timeout_s=max(1.0, deadline - time.monotonic()))
            triggered_at = time.time()
            trigger = self._call("POST", f"/jobs/{flink_job_id}/stop", json={
                "targetDirectory": Path(savepoint_dir).resolve().as_uri(), "drain": drain,
                "formatType": "CANONICAL"})["request-id"]
            try:
                result = self._await(f"/jobs/{flink_job_id}/savepoints/{trigger}", deadline)
            except ServiceUnavailable:
                # A local job's process ends with its job, REST server and all, possibly before the next
                # poll reads the outcome: a complete savepoint of this job written since says it.
                written = _savepoint_since(Path(savepoint_dir), flink_job_id, triggered_at)
                if written is None:
                    raise
                return written.as_uri()
            if "location" in result:
                return result["location"]
            cause = str(result.get("failure-cause", result))
            if _TASK_LOCAL in cause:
                # The stop's own answer names only the reason; the checkpoint's statistics keep its message.
                failed = (self._call("GET", f"/jobs/{flink_job_id}/checkpoints").get("latest") or {}).get("failed")
                cause = f"{(failed or {}).get('failure_message', '')}: {cause}"
            if not any(refusal in cause for refusal in _NOT_YET_READY) or time.monotonic() > deadline:
                raise RiskstreamError(f"stop with savepoint of job {flink_job_id} failed: {cause[:2000]}")
            time.sleep(1.0)

    def _await(self, path: str, deadline: float) -> dict:
        while True:
            answer = self._call("GET", path)
            if answer.get("status", {}).get("id") == "COMPLETED":
                return answer.get("operation", {})
            if time.monotonic() > deadline:
                raise RiskstreamError(f"{self.url}{path} still in progress at the deadline: {answer}")
            time.sleep(0.5)

    def _vertex_counts(self, flink_job_id: str, metric: str) -> dict[str, int]:
        return {v["name"]: int(v.get("metrics", {}).get(metric, 0)) for v in self.job(flink_job_id)["vertices"]}

    def records_out(self, flink_job_id: str) -> dict[str, int]:
        """Records each operator chain has emitted since the job (re)started, by vertex name."""
        return self._vertex_counts(flink_job_id, "write-records")

    def records_in(self, flink_job_id: str) -> dict[str, int]:
        """Records each operator chain has taken in since the job (re)started, by vertex name (a source's
        chain counts what its source read)."""
        return self._vertex_counts(flink_job_id, "read-records")

    def restored(self, flink_job_id: str) -> Restored | None:
        """The checkpoint or savepoint the job restored from, or None if it started afresh."""
        restored = (self._call("GET", f"/jobs/{flink_job_id}/checkpoints").get("latest") or {}).get("restored")
        if not restored:
            return None
        return Restored(int(restored["id"]), restored.get("external_path", ""), bool(restored.get("is_savepoint")))


def _savepoint_since(folder: Path, flink_job_id: str, since: float) -> Path | None:
    """The newest complete savepoint (its `_metadata` written) of the job in `folder` since `since`."""
    found = [path for path in folder.glob(f"savepoint-{flink_job_id[:6]}-*")
             if (path / "_metadata").is_file() and (path / "_metadata").stat().st_mtime >= since]
    return max(found, key=lambda path: (path / "_metadata").stat().st_mtime, default=None)


def location_path(location: str) -> Path:
    """A checkpoint or savepoint location as Flink reports it (`file:/...` URI) or as a user types it."""
    parsed = urlparse(location)
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else Path(location).resolve()
