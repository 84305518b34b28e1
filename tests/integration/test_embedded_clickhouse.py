"""An embedded ClickHouse path held by another process: who holds it, and a clear error naming it."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from riskstream.core import paths
from riskstream.core.config import ClickHouseSettings
from riskstream.core.errors import EmbeddedPathHeld
from riskstream.io import clickhouse
from riskstream.stack import process

OPEN = "import sys; from riskstream.core.config import ClickHouseSettings; from riskstream.io import clickhouse; " \
       "c = clickhouse.connect(ClickHouseSettings(url=sys.argv[1])); print(c.query('SELECT 1').result_rows); c.close()"
HOLD = "import sys, time, clickhouse_connect; c = clickhouse_connect.get_client(dsn=sys.argv[1]); " \
       "c.query('SELECT 1'); print('holding', flush=True); time.sleep(120)"


def test_a_held_path_names_its_holder_and_is_free_again_after_it_exits(tmp_path):
    path = tmp_path / "ch"
    settings = ClickHouseSettings(url=f"chdb://{path}")
    log = tmp_path / "holder.log"
    holder = process.spawn([sys.executable, "-c", HOLD, settings.url], log)
    try:
        deadline = time.monotonic() + 60
        while "holding" not in (log.read_text() if log.exists() else "") and time.monotonic() < deadline:
            time.sleep(0.2)
        found = clickhouse.embedded_holder(path)
        assert found is not None and found.pid == holder and "clickhouse_connect" in found.command
        with pytest.raises(EmbeddedPathHeld, match=f"held by PID {holder}") as refused:
            clickhouse.connect(settings)
        assert refused.value.pid == holder and refused.value.address == settings.url
        with pytest.raises(EmbeddedPathHeld):
            clickhouse.require_embedded_free(settings)
    finally:
        process.terminate(holder)
    assert (path / "status").exists()  # the engine leaves its status file behind ...
    assert clickhouse.embedded_holder(path) is None  # ... but nobody holds it any more
    # Opened from a fresh process: chDB admits one path per process, and this test process may already
    # have opened the stack's path (jobs run in-process in the e2e tier).
    opened = subprocess.run([sys.executable, "-c", OPEN, settings.url], capture_output=True, text=True, timeout=120,
                            cwd=paths.REPO_ROOT)
    assert opened.returncode == 0 and opened.stdout.strip() == "[(1,)]", opened.stderr[-2000:]
