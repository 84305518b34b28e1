"""Find the checkpoint a restarted job resumes from; look for ids in the state that checkpoints and savepoints hold."""
from __future__ import annotations

import mmap
import re
from dataclasses import dataclass
from pathlib import Path

from riskstream.core.errors import RiskstreamError


def latest(checkpoint_dir: Path | str | None) -> str:
    """The newest completed checkpoint (`<job>/chk-N` holding `_metadata`) under the folder."""
    if checkpoint_dir is None or "://" in str(checkpoint_dir):
        raise RiskstreamError(f"--from-checkpoint latest looks in a local --checkpoint-dir, and the job's is "
                              f"{checkpoint_dir or 'the cluster setting'}: give the checkpoint's path or URI instead")
    completed = [p.parent for p in Path(checkpoint_dir).glob("*/chk-*/_metadata")]
    if not completed:
        raise RiskstreamError(f"no completed checkpoint under {checkpoint_dir}: start the job without --from-checkpoint")
    newest = max(completed, key=lambda p: (p.stat().st_mtime, int(re.sub(r"\D", "", p.name) or 0)))
    return str(newest)


@dataclass(frozen=True)
class SnapshotFinding:
    """A completed checkpoint or savepoint folder, and how often it holds one of the ids looked for."""

    snapshot: Path
    occurrences: int


def snapshots(folder: Path) -> list[Path]:
    """Every completed checkpoint (`<job>/chk-N`) and savepoint (`savepoint-...`) under `folder`: the folders
    holding a `_metadata` file, oldest first."""
    return sorted((p.parent for p in Path(folder).rglob("_metadata")), key=lambda p: (p.stat().st_mtime, str(p)))


def scan_snapshots(folder: Path, ids: list[str]) -> list[SnapshotFinding]:
    """Each snapshot under `folder` with the occurrences of `ids` in its files.

    The job's state backend (hashmap) writes full snapshots, uncompressed: Python state is stored as its
    pickled bytes, typed rows with Flink's serializers, and both keep a string's UTF-8 bytes as they are, so
    an id held in state is in the files verbatim (small state inline in `_metadata`, the rest beside it). The
    bytes around it are binary (length prefixes that may look like id characters), so an id is counted
    wherever its bytes are, also inside a longer id: a verifier errs towards reporting.
    """
    needles = sorted({i.encode("utf-8") for i in ids if i}, key=len, reverse=True)
    if not needles:
        return []
    pattern = re.compile(b"|".join(re.escape(n) for n in needles))
    return [SnapshotFinding(snapshot, sum(_count(pattern, path) for path in snapshot.rglob("*") if path.is_file()))
            for snapshot in snapshots(folder)]


def _count(pattern: re.Pattern, path: Path) -> int:
    """Occurrences of `pattern` in a file, searched through a memory map: a state file of gigabytes is paged
    in by the kernel as the search goes, never copied into this process's memory whole."""
    if path.stat().st_size == 0:
        return 0  # an empty file cannot be mapped
    with path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        return sum(1 for _ in pattern.finditer(mapped))
