"""Find the checkpoint a restarted job resumes from."""
from __future__ import annotations

import re
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
