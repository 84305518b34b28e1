"""A headless Chromium for tests that look at pages as people do (`make setup` installs Debian's
chromium-headless-shell; RISKSTREAM_CHROMIUM names another binary)."""
from __future__ import annotations

import os
import shutil


def chromium() -> str:
    """The Chromium binary to drive; an error naming what was looked for when there is none."""
    named = os.environ.get("RISKSTREAM_CHROMIUM")
    if named:
        return named
    for name in ("chromium-headless-shell", "chromium"):
        found = shutil.which(name) or (f"/usr/lib/chromium/{name}" if os.path.exists(f"/usr/lib/chromium/{name}")
                                       else None)
        if found:
            return found
    raise RuntimeError("no headless Chromium: run `make setup` (installs Debian's chromium-headless-shell) or set "
                       "RISKSTREAM_CHROMIUM to a Chromium binary")
