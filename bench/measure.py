"""Run a command and measure it as a whole: wall time, peak RSS of its process tree (and per process name), CPU
seconds by process.

Sampled from /proc every 0.2 s (Linux): a process that lives less than that may be missed, which at the
scale of a job run (tens of seconds) does not move the figures. CPU time of a process is its last sample.
"""
from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Measured:
    wall_s: float
    peak_rss_mib: float
    cpu_s: dict[str, float] = field(default_factory=dict)  # by process name (comm)
    returncode: int = 0
    peak_rss_by_name_mib: dict[str, float] = field(default_factory=dict)  # each name's own peak (comm)

    @property
    def total_cpu_s(self) -> float:
        return sum(self.cpu_s.values())


def _stat(pid: int) -> tuple[str, int, float, int] | None:
    """(comm, parent pid, CPU seconds, RSS bytes) of a live process."""
    return read_stat(Path(f"/proc/{pid}/stat"))


def read_stat(path: Path) -> tuple[str, int, float, int] | None:
    """(comm, parent pid, CPU seconds, RSS bytes) from a /proc stat file, a process's or a thread's
    (/proc/<pid>/task/<tid>/stat); None once it has gone."""
    try:
        text = path.read_text()
    except OSError:
        return None
    comm = text[text.index("(") + 1:text.rindex(")")]
    fields = text[text.rindex(")") + 2:].split()
    return comm, int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK, int(fields[21]) * PAGE


def process_tree(root: int) -> dict[int, tuple[str, int, float, int]]:
    """pid -> (comm, parent pid, CPU seconds, RSS bytes) of `root` and its live descendants."""
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat:
                stats[int(entry)] = stat
    members, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, stat in stats.items():
            if stat[1] == parent and pid not in members:
                members.add(pid)
                frontier.append(pid)
    return {pid: stats[pid] for pid in members if pid in stats}


def cpu_seconds(pid: int) -> float:
    """CPU seconds used so far by a process and its descendants that still run."""
    return sum(stat[2] for stat in process_tree(pid).values())


def run(command: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> Measured:
    """Run `command` to its end, its output to `log`; measured as described above."""
    log.parent.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    peak, last_cpu, peak_by_name = 0, {}, {}
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        while process.poll() is None:
            tree = process_tree(process.pid)
            peak = max(peak, sum(stat[3] for stat in tree.values()))
            for name, rss in _by_name((stat[0], stat[3]) for stat in tree.values()).items():
                peak_by_name[name] = max(peak_by_name.get(name, 0), rss)
            last_cpu.update({pid: (stat[0], stat[2]) for pid, stat in tree.items()})
            time.sleep(0.2)
    wall = time.monotonic() - began
    by_name = _by_name(last_cpu.values())
    return Measured(wall, peak / 2 ** 20, by_name, process.returncode,
                    {name: rss / 2 ** 20 for name, rss in peak_by_name.items()})


def _by_name(pairs) -> dict[str, float]:
    """Sum of the values per name, from (name, value) pairs."""
    sums: dict[str, float] = {}
    for name, value in pairs:
        sums[name] = sums.get(name, 0) + value
    return sums
