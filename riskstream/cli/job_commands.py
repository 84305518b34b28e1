"""`riskstream job run|resume|list|stop|drain`: run the safety-health job and operate it from another shell.

A running job records itself under `<state dir>/runs/` (REST address, PID, log file). `stop` and `drain`
find it there, wait until every task runs (a job just restored is refused a savepoint until then), stop
it with a savepoint through Flink's REST API, note the job id beside the savepoint, and wait for the
job's process to exit. `resume --from SAVEPOINT` restarts it from there under the same job id.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from riskstream.core import config, job_config
from riskstream.core.errors import ConfigError, RiskstreamError
from riskstream.io import job_runs
from riskstream.io.flink_rest import FlinkRest, location_path
from riskstream.io.processes import pid_alive

SAVEPOINT_NOTE = "riskstream-run.json"


def add_parser(commands) -> None:
    job = commands.add_parser("job", help="run the safety-health job, list runs, stop or drain one with a savepoint")
    actions = job.add_subparsers(dest="job_action", required=True)

    run = actions.add_parser("run", help="run the safety-health job in this shell until it ends or is stopped")
    _job_options(run)
    job_config.add_run_arguments(run)
    run.set_defaults(handler=_run)

    resume = actions.add_parser("resume", help="run the job again from a savepoint (or checkpoint), same job id")
    _job_options(resume)
    job_config.add_run_arguments(resume)
    resume.add_argument("--from", dest="resume_from", required=True, metavar="SAVEPOINT",
                        help="savepoint or checkpoint folder (or file: URI) to restore")
    resume.set_defaults(handler=_resume)

    listing = actions.add_parser("list", help="the recorded runs: job id, PID, Flink state, REST address, log")
    config.add_options(listing, (config.STATE_DIR,))
    listing.set_defaults(handler=_list)

    for name, drain, text in (
            ("stop", False, "stop with a savepoint, open windows kept in it (to upgrade or move, then resume)"),
            ("drain", True, "fire every window, then stop with a savepoint (to end the job for good)")):
        action = actions.add_parser(name, help=text)
        config.add_options(action, (config.STATE_DIR,))
        action.add_argument("--job-id", default="", help="which running job (default: the only one)")
        action.add_argument("--savepoint-dir", help="where the savepoint goes (default: <state dir>/savepoints)")
        action.add_argument("--timeout-s", type=float, default=300.0, help="give up after this long")
        action.set_defaults(handler=_stop, drain=drain)


def _job_options(parser: argparse.ArgumentParser) -> None:
    config.add_options(parser, config.SERVICE_OPTIONS + job_config.HEALTH_JOB_OPTIONS + (config.STATE_DIR,))


def _run(args: argparse.Namespace) -> int:
    from jobs import safety_health

    return safety_health.run_and_report(*safety_health.settings_from(args))


def _resume(args: argparse.Namespace) -> int:
    if args.from_checkpoint:
        raise ConfigError("job resume takes --from, not --from-checkpoint")
    location = location_path(args.resume_from)
    if not (location / "_metadata").exists():
        raise ConfigError(f"--from {args.resume_from}: no savepoint or checkpoint there (no _metadata file)")
    note = savepoint_note(location)
    if note.get("drained"):
        raise ConfigError(f"--from {location}: taken by `job drain`, which ends a job for good (its operators "
                          f"finished, and a job restored from it reads nothing); start a new run with "
                          f"--start-offsets, or stop with `job stop` next time to resume later")
    noted = note.get("job_id")
    if noted and args.job_id and args.job_id != noted:
        raise ConfigError(f"--job-id {args.job_id}: the savepoint is job {noted}'s; rows are keyed by job id, so "
                          f"resuming under another id would write a second set of rows")
    args.job_id = args.job_id or noted or ""
    args.from_checkpoint = str(location)
    return _run(args)


def _list(args: argparse.Namespace) -> int:
    runs = job_runs.load_all(Path(args.state_dir))
    if not runs:
        print("no job runs recorded")
    for run in runs:
        state = _flink_state(run) if pid_alive(run.pid) else "process gone (stale record)"
        print(f"{run.job_id}: PID {run.pid}, {state}, Flink job {run.flink_job_id}, REST {run.rest_url}, "
              f"log {run.log_file}")
    return 0


def _flink_state(run: job_runs.JobRun) -> str:
    try:
        return FlinkRest(run.rest_url, timeout_s=3).job(run.flink_job_id).get("state", "?")
    except RiskstreamError as exc:
        return f"REST not answering ({exc})"


def _stop(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir)
    run = job_runs.find(state_dir, args.job_id or None)
    target = Path(args.savepoint_dir or state_dir / "savepoints").resolve()
    began = time.monotonic()
    location = FlinkRest(run.rest_url).stop_with_savepoint(run.flink_job_id, target, drain=args.drain,
                                                           timeout_s=args.timeout_s)
    path = location_path(location)
    (path / SAVEPOINT_NOTE).write_text(json.dumps({"job_id": run.job_id, "flink_job_id": run.flink_job_id,
                                                   "drained": args.drain}, indent=2))
    deadline = began + args.timeout_s
    while pid_alive(run.pid) and time.monotonic() < deadline:
        time.sleep(0.2)  # the job's process exits once Flink reports the job finished
    if pid_alive(run.pid):
        raise RiskstreamError(f"job {run.job_id} stopped with savepoint {path}, but its process {run.pid} is "
                              f"still running after {args.timeout_s:.0f}s; see its log {run.log_file}")
    job_runs.forget(state_dir, run)
    verb = "drained and stopped" if args.drain else "stopped"
    print(f"job {run.job_id} {verb}; savepoint {path}")
    print(f"resume with: riskstream job resume --from {path}")
    return 0


def savepoint_note(location: Path) -> dict:
    """What `stop`/`drain` noted beside a savepoint (job id, drained or not); empty if nothing."""
    try:
        note = json.loads((location / SAVEPOINT_NOTE).read_text())
    except (OSError, ValueError):
        return {}
    return note if isinstance(note, dict) else {}
