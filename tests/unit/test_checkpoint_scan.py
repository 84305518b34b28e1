"""`forget verify`'s search of checkpoint and savepoint files for a forgotten id (memory-mapped)."""
from __future__ import annotations

import os

from riskstream.io.checkpoints import scan_snapshots


def test_every_occurrence_is_counted_in_every_file_of_each_completed_snapshot(tmp_path):
    viewer, creator = b"viewer-7f3a", b"creator-0042"
    checkpoint = tmp_path / "job" / "chk-3"
    checkpoint.mkdir(parents=True)
    (checkpoint / "_metadata").write_bytes(b"\x00\x0b" + viewer + b"\x00" * 10 + creator)
    # A state file of 8 MiB of other bytes with the ids at its start, across a page boundary and at its end.
    blob = bytearray(os.urandom(8 << 20).replace(b"v", b"w").replace(b"c", b"d"))
    for at in (0, 4096 - 5, (1 << 20) - 3, len(blob) - len(creator)):
        needle = creator if at == len(blob) - len(creator) else viewer
        blob[at:at + len(needle)] = needle
    (checkpoint / "state-1").write_bytes(bytes(blob))
    (checkpoint / "empty").write_bytes(b"")
    unfinished = tmp_path / "job" / "chk-4"                   # no _metadata: not a completed snapshot
    unfinished.mkdir()
    (unfinished / "state-1").write_bytes(viewer)

    [found] = scan_snapshots(tmp_path, [viewer.decode(), creator.decode()])
    expected = sum(path.read_bytes().count(needle) for path in checkpoint.iterdir() for needle in (viewer, creator))
    assert (found.snapshot, found.occurrences) == (checkpoint, expected) and expected == 6
    assert scan_snapshots(tmp_path, ["someone-else"])[0].occurrences == 0
