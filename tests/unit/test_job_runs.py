"""Run records: the live run found by id or alone, stale records ignored, a job's workers traced to it."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from riskstream.core.errors import RiskstreamError
from riskstream.io import job_runs
from riskstream.io.job_runs import JobRun


def _run(job_id: str, pid: int) -> JobRun:
    return JobRun(job_id=job_id, flink_job_id="f" * 32, pid=pid, rest_url="http://127.0.0.1:1", log_file="-",
                  checkpoint_dir="-", started_ms=0)


def test_the_only_live_run_is_found_and_a_dead_ones_record_is_stale(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    job_runs.record(tmp_path, _run("gone", dead.pid))
    live = _run("alive", os.getpid())
    job_runs.record(tmp_path, live)
    assert job_runs.find(tmp_path, None) == live
    assert job_runs.find(tmp_path, "alive") == live
    with pytest.raises(RiskstreamError, match="no running job 'gone'.*running: alive"):
        job_runs.find(tmp_path, "gone")
    job_runs.record(tmp_path, _run("other", os.getppid()))
    with pytest.raises(RiskstreamError, match="2 jobs are running"):
        job_runs.find(tmp_path, None)


def test_a_child_process_is_traced_to_the_run_of_its_parent(tmp_path):
    run = _run("parent", os.getpid())
    job_runs.record(tmp_path, run)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert job_runs.owning_run(tmp_path, child.pid) == run
    finally:
        child.kill()
        child.wait()
    assert job_runs.owning_run(tmp_path, 1) is None


def test_forget_leaves_a_newer_runs_record_alone(tmp_path):
    old, new = _run("job", 111111), _run("job", os.getpid())
    job_runs.record(tmp_path, new)
    job_runs.forget(tmp_path, old)
    assert job_runs.load_all(tmp_path) == [new]
    job_runs.forget(tmp_path, new)
    assert job_runs.load_all(tmp_path) == []
