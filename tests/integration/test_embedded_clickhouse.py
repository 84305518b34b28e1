"""An embedded ClickHouse path held by another process: who holds it, and a clear error naming it."""
from __future__ import annotations

import sys
import time

import pytest

from riskstream.core.config import ClickHouseSettings
from riskstream.core.errors import EmbeddedPathHeld
from riskstream.io import clickhouse
from riskstream.stack import process

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
    client = clickhouse.connect(settings)
    try:
        assert client.query("SELECT 1").result_rows == [(1,)]
    finally:
        client.close()
