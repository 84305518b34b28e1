"""Where the job's CPU goes, by process and thread: Flink's Python runtime, the JVM's JIT, the operators.

    .venv/bin/python -m bench.threads --events 100000

Produces a backlog (as bench.compare does, on the local stack), runs the job on it
(`python -m jobs.safety_health --bounded`, score cache off) and samples, every 0.5 s, the CPU time of
every thread of its process tree (/proc/<pid>/task). Java threads carry their names there (Flink names a
task's thread after its operator chain, truncated to 15 characters; the JIT compilers and GC threads
are named too). Python threads are named by asking py-spy (`py-spy dump`) every few seconds; a thread
py-spy does not list is native (gRPC's C core pollers, for instance) and is shown by its OS name.
Threads are grouped by name without their trailing numbers. Triton's CPU is shown beside, from its own
process. Figures are CPU seconds over the whole run, start-up included.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

from bench import measure
from bench.compare import _command, produce_backlog
from riskstream.core import paths
from riskstream.core.config import StackSettings
from riskstream.io import stack_state as state
from riskstream.io.processes import job_environment

DUMP_EVERY_S = 5.0
PY_SPY = Path(sys.executable).parent / "py-spy"
DUMP_FAILURES: list[str] = []  # why a py-spy dump listed no thread, per failed dump
_THREAD_LINE = re.compile(r'^Thread (\d+) \((?:active|idle)[^)]*\): "(.*)"', re.M)


def _threads(pid: int) -> dict[int, tuple[str, float]]:
    """tid -> (OS thread name, CPU seconds) for one process."""
    found = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tids:
        stat = measure.read_stat(Path(f"/proc/{pid}/task/{tid}/stat"))
        if stat is not None:
            found[int(tid)] = (stat[0], stat[2])
    return found


def _python_names(pid: int) -> dict[int, str]:
    """tid -> Python thread name and the function it was started with (its outermost frame outside
    threading.py), as py-spy reads them from the running interpreter."""
    # Non-blocking: a loaded process is not paused (a paused dump times out on a busy 2-core machine).
    result = subprocess.run([str(PY_SPY), "dump", "--nonblocking", "--pid", str(pid)], capture_output=True,
                            text=True)
    names = {}
    for block in result.stdout.split("\nThread ")[1:]:
        header = _THREAD_LINE.match("Thread " + block)
        if header is None:
            continue
        frames = [line.strip() for line in block.splitlines()[1:] if line.startswith("    ")]
        outer = [f for f in frames if "threading.py" not in f]
        started_with = outer[-1].split(" (")[0] if outer else ""
        names[int(header.group(1))] = f"{header.group(2)} [{started_with}]" if started_with else header.group(2)
    if not names:
        DUMP_FAILURES.append((result.stderr.strip().splitlines() or [f"exit {result.returncode}"])[0][:300])
    return names


def _group(name: str) -> str:
    """A thread's name without the numbers that tell its siblings apart (Thread-12, pool_3, worker #1)."""
    return re.sub(r"[-_ #.]*\d+(_\d+)*(?=( \[|\)| \(|$))", "", name) or name


def profile(command: list[str], log: Path) -> tuple[float, Counter]:
    """Run the job; returns (wall seconds, CPU seconds by (process, thread group))."""
    cpu: dict[tuple[int, int], tuple[str, str, float]] = {}  # (pid, tid) -> (process, thread, seconds)
    python_names: dict[int, dict[int, str]] = {}
    began = last_dump = time.monotonic()
    with log.open("w") as out:
        job = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=job_environment(),
                               cwd=paths.REPO_ROOT)
        while job.poll() is None:
            for pid, (comm, *_rest) in measure.process_tree(job.pid).items():
                is_python = comm.startswith("python")
                if is_python and (pid not in python_names or time.monotonic() - last_dump > DUMP_EVERY_S):
                    python_names.setdefault(pid, {}).update(_python_names(pid))
                    last_dump = time.monotonic()
                for tid, (name, seconds) in _threads(pid).items():
                    named = python_names.get(pid, {}).get(tid, f"(native) {name}") if is_python else name
                    cpu[(pid, tid)] = ("python" if is_python else comm, named, seconds)
            time.sleep(0.5)
    by_group: Counter = Counter()
    for process, thread, seconds in cpu.values():
        by_group[(process, _group(thread))] += seconds
    return time.monotonic() - began, by_group


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--top", type=int, default=20, help="thread groups to print")
    args = parser.parse_args(argv)
    stack = StackSettings()
    _, start, end, _ = produce_backlog(stack, args.events)
    work = stack.state_dir / "bench" / "threads"
    work.mkdir(parents=True, exist_ok=True)
    job_id = f"bench-threads-{uuid.uuid4().hex[:8]}"
    triton_pid = state.load(stack.state_dir)["triton"].pid
    triton_before = measure.cpu_seconds(triton_pid)
    wall, by_group = profile(_command("job", job_id, start, end, stack, work), work / f"{job_id}.log")
    triton = measure.cpu_seconds(triton_pid) - triton_before
    total = sum(by_group.values())
    print(f"bench.threads --events {args.events}: {time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, "
          f"job wall {wall:.1f} s (start-up included), job CPU {total:.1f} s, Triton CPU {triton:.1f} s")
    print("| process | thread group | CPU s | share of the job's CPU |")
    print("| --- | --- | --- | --- |")
    for (process, thread), seconds in by_group.most_common(args.top):
        print(f"| {process} | {thread} | {seconds:.1f} | {seconds / total:.0%} |")
    if DUMP_FAILURES:
        print(f"{len(DUMP_FAILURES)} py-spy dumps listed no thread (their Python threads show as native); "
              f"the last said: {DUMP_FAILURES[-1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
