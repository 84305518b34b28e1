"""The stack's state file: which services run, under which pid, at which address, logging where."""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class ServiceRecord:
    """What `stack up` left behind for one service."""

    pid: int | None
    address: str
    log_path: str
    details: dict[str, str] = field(default_factory=dict)


def _state_file(state_dir: Path) -> Path:
    return state_dir / "stack.json"


def load(state_dir: Path) -> dict[str, ServiceRecord]:
    path = _state_file(state_dir)
    if not path.exists():
        return {}
    raw = json.loads(path.read_text())
    return {name: ServiceRecord(**record) for name, record in raw.items()}


def save(state_dir: Path, records: dict[str, ServiceRecord]) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    path = _state_file(state_dir)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({name: asdict(r) for name, r in records.items()}, indent=2, sort_keys=True))
    os.replace(tmp, path)  # atomic, so a reader never sees half a file


def addresses(state_dir: Path) -> dict[str, str]:
    """Service name -> address of the local stack, for settings that were not given explicitly."""
    return {name: record.address for name, record in load(state_dir).items()}
