"""Find the checkpoint a restarted job resumes from."""
from __future__ import annotations

import re
from pathlib import Path

from riskstream.core.errors import RiskstreamError


def latest(checkpoint_dir: Path) -> str:
    """The newest completed checkpoint (`<job>/chk-N` holding `_metadata`) under the folder."""
    completed = [p.parent for p in Path(checkpoint_dir).glob("*/chk-*/_metadata")]
    if not completed:
        raise RiskstreamError(f"no completed checkpoint under {checkpoint_dir}: start the job without --from-checkpoint")
    newest = max(completed, key=lambda p: (p.stat().st_mtime, int(re.sub(r"\D", "", p.name) or 0)))
    return str(newest)
