"""Records of the jobs running on this machine: one JSON file per run under `<state dir>/runs/`.

A job process writes its record once Flink has accepted the job and removes it when the job ends, so
`riskstream job list|stop|drain` (another process) can find its REST address, and `stack status` can
say which job holds the embedded ClickHouse. A record whose process is gone is stale, not running.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from riskstream.core.errors import RiskstreamError
from riskstream.io.processes import ancestors, pid_alive


@dataclass(frozen=True)
class JobRun:
    """One run of a job: its lineage id, the process running it, and where to reach and read it."""

    job_id: str
    flink_job_id: str
    pid: int
    rest_url: str
    log_file: str
    checkpoint_dir: str
    started_ms: int


def runs_dir(state_dir: Path) -> Path:
    return Path(state_dir) / "runs"


def _path(state_dir: Path, job_id: str) -> Path:
    return runs_dir(state_dir) / f"{job_id}.json"


def record(state_dir: Path, run: JobRun) -> Path:
    path = _path(state_dir, run.job_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(run), indent=2, sort_keys=True))
    os.replace(tmp, path)  # atomic: a reader never sees half a record
    return path


def forget(state_dir: Path, run: JobRun) -> None:
    """Remove the record if it is still this run's (a newer run of the same job id may have replaced it)."""
    path = _path(state_dir, run.job_id)
    try:
        if json.loads(path.read_text()).get("pid") == run.pid:
            path.unlink()
    except (OSError, ValueError):
        pass


def load_all(state_dir: Path) -> list[JobRun]:
    runs = []
    for path in sorted(runs_dir(state_dir).glob("*.json")):
        try:
            runs.append(JobRun(**json.loads(path.read_text())))
        except (OSError, ValueError, TypeError):
            continue  # a record from another version of the project: not ours to read
    return runs


def alive(run: JobRun) -> bool:
    return pid_alive(run.pid)


def find(state_dir: Path, job_id: str | None) -> JobRun:
    """The live run of `job_id`, or the only live run when no id is given; a clear error otherwise."""
    live = [r for r in load_all(state_dir) if alive(r)]
    if job_id:
        matching = [r for r in live if r.job_id == job_id]
        if not matching:
            raise RiskstreamError(f"no running job {job_id!r} recorded under {runs_dir(state_dir)} "
                                  f"(running: {', '.join(r.job_id for r in live) or 'none'})")
        return matching[0]
    if len(live) != 1:
        names = ", ".join(r.job_id for r in live) or "none"
        raise RiskstreamError(f"{len(live)} jobs are running ({names}): name one with --job-id")
    return live[0]


def owning_run(state_dir: Path, pid: int) -> JobRun | None:
    """The recorded run whose process is `pid` or one of its ancestors (a job's Python workers are its
    grandchildren), if any."""
    by_pid = {r.pid: r for r in load_all(state_dir)}
    for candidate in [pid, *ancestors(pid)]:
        if candidate in by_pid:
            return by_pid[candidate]
    return None
