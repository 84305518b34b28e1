import os
import time

from riskstream.io.flink_rest import _savepoint_since

JOB = "0024679b6439dc2e79758032dd6a6f3c"


def _savepoint(folder, name, complete=True, mtime=None):
    path = folder / name
    path.mkdir()
    if complete:
        (path / "_metadata").write_bytes(b"x")
        if mtime is not None:
            os.utime(path / "_metadata", (mtime, mtime))
    return path


def test_the_savepoint_a_stop_wrote_is_found_when_the_rest_api_is_gone(tmp_path):
    now = time.time()
    _savepoint(tmp_path, "savepoint-002467-old", mtime=now - 600)           # an earlier stop's
    _savepoint(tmp_path, "savepoint-002467-partial", complete=False)        # not finished: no _metadata
    _savepoint(tmp_path, "savepoint-ffffff-other", mtime=now + 1)           # another job's
    written = _savepoint(tmp_path, "savepoint-002467-new", mtime=now + 1)
    assert _savepoint_since(tmp_path, JOB, now) == written
    assert _savepoint_since(tmp_path, JOB, now + 10) is None


def _job(now, states=("RUNNING",), starts=(1_000, 1_200)):
    return {"state": "RUNNING", "now": now,
            "vertices": [{"start-time": start, "tasks": {state: 1}} for start, state in zip(starts, states * 2)]}


def _checkpoint(trigger, ack, status="COMPLETED"):
    return {"status": status, "trigger_timestamp": trigger, "latest_ack_timestamp": ack}


def test_a_stop_waits_for_every_task_and_for_the_first_checkpoint_since_they_started_to_settle():
    from riskstream.io.flink_rest import SETTLE_MS, unsettled
    before = _checkpoint(900, 950)                                    # taken before a restart: does not count
    first, second = _checkpoint(1_500, 1_600), _checkpoint(2_500, 2_600)
    assert unsettled(_job(5_000, states=("INITIALIZING",)), {}) == "tasks to run: {'INITIALIZING': 2}"
    assert unsettled({"state": "RESTARTING", "vertices": []}, {}) == "tasks to run: {'job RESTARTING': 1}"
    assert unsettled(_job(5_000), {"history": [before], "latest": {"completed": before}}) \
        == "a first checkpoint since the tasks started"
    in_progress = _checkpoint(1_500, 1_550, status="IN_PROGRESS")
    assert unsettled(_job(5_000), {"history": [in_progress, before]}) == "a first checkpoint since the tasks started"
    # Settled once the first completed checkpoint since the start is SETTLE_MS old, even while later ones
    # keep completing (a short interval would otherwise never let a stop through).
    history = {"history": [second, first, before], "latest": {"completed": second}}
    assert unsettled(_job(1_600 + SETTLE_MS - 1), history) == "tasks that finish at the first checkpoint"
    assert unsettled(_job(1_600 + SETTLE_MS), history) is None
    # A finished task (a bounded source past its end) takes part as FINISHED.
    assert unsettled(_job(1_600 + SETTLE_MS, states=("FINISHED", "RUNNING")), history) is None
