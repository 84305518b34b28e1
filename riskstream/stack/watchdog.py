"""Stop a stack's service processes once the process that started them is gone.

`stack up` leaves services running on purpose; a test session (or any owner) that must not leave them
behind, even when it is killed, starts this beside them:

    python -m riskstream.stack.watchdog --owner PID --state-dir DIR

It re-reads the state file while the owner lives (so it knows services started after it), and the record of a
standalone Flink cluster started in the same folder (`riskstream cluster up`), and, when the owner dies, stops
every process it knew of, also if the state folder was deleted meanwhile.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from riskstream.io import stack_state as state
from riskstream.io.processes import pid_alive
from riskstream.stack import flink_cluster, process


def watch(owner: int, state_dir: Path, poll_s: float = 0.5) -> list[int]:
    """Block while `owner` lives; then stop the services recorded under `state_dir`; return their pids."""
    known: dict[str, int] = {}
    while pid_alive(owner):
        try:
            known.update({name: r.pid for name, r in state.load(state_dir).items() if r.pid})
            known.update({f"{flink_cluster.NAME}-{pid}": pid for pid in flink_cluster.recorded_pids(state_dir)})
        except (OSError, ValueError, TypeError):
            pass  # a state file being rewritten or removed: keep what was known
        time.sleep(poll_s)
    for pid in known.values():
        process.terminate(pid)
    return list(known.values())


def start(owner: int, state_dir: Path) -> int:
    """Spawn the watchdog for `owner` as a detached process; returns its pid."""
    return process.spawn([sys.executable, "-m", "riskstream.stack.watchdog", "--owner", str(owner),
                          "--state-dir", str(state_dir)], Path(state_dir) / "logs" / "watchdog.log")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--owner", type=int, required=True, help="PID whose death stops the services")
    parser.add_argument("--state-dir", type=Path, required=True, help="the stack's state folder")
    args = parser.parse_args(argv)
    stopped = watch(args.owner, args.state_dir)
    print(f"owner {args.owner} gone; stopped {stopped}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
