"""Avro schema histories on disk: `schemas/<record>/v<N>.avsc`, every version ever published, in order."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from riskstream.core import paths

IMPRESSION_HISTORY = paths.SCHEMAS_DIR / "impression"
DEAD_LETTER_HISTORY = paths.SCHEMAS_DIR / "dead_letter"
POLICY_HISTORY = paths.SCHEMAS_DIR / "policy"
VERDICT_HISTORY = paths.SCHEMAS_DIR / "verdict"
BREAKER_HISTORY = paths.SCHEMAS_DIR / "breaker"
MODERATION_LABEL_HISTORY = paths.SCHEMAS_DIR / "moderation_label"
FORGET_REQUEST_HISTORY = paths.SCHEMAS_DIR / "forget_request"
_VERSION_FILE = re.compile(r"^v(\d+)\.avsc$")


@dataclass(frozen=True)
class SchemaFile:
    version: int
    path: Path
    text: str  # the JSON as written, which is what a schema registry is given


def versions(folder: Path) -> list[SchemaFile]:
    """The folder's `v<N>.avsc` files, oldest first; an empty folder is an error."""
    found = []
    for path in Path(folder).glob("v*.avsc"):
        match = _VERSION_FILE.match(path.name)
        if match:
            found.append(SchemaFile(int(match.group(1)), path, path.read_text()))
    if not found:
        raise FileNotFoundError(f"no v<N>.avsc schema versions in {folder}")
    return sorted(found, key=lambda f: f.version)
