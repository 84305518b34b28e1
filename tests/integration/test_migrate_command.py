"""`riskstream migrate` (what the Kubernetes Job runs): every migration once, then nothing, on a real engine."""
from __future__ import annotations

import re
import subprocess
import sys

from riskstream.core import paths

RS = [sys.executable, "-m", "riskstream.cli.main"]
TABLES = "import sys, clickhouse_connect; c = clickhouse_connect.get_client(dsn=sys.argv[1]); " \
         "print(' '.join(r[0] for r in c.query(\"SELECT name FROM system.tables WHERE database = 'riskstream' " \
         "ORDER BY name\").result_rows)); print(c.query('SELECT count() FROM riskstream.schema_migrations')" \
         ".result_rows[0][0]); c.close()"


def test_migrate_applies_every_migration_once_then_finds_none_pending(tmp_path):
    files = sorted(paths.CLICKHOUSE_MIGRATIONS_DIR.glob("*.sql"))
    # The tables the files create, read from the SQL itself (not from the code under test).
    created = {name for f in files for name in re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", f.read_text())}
    url = f"chdb://{tmp_path / 'clickhouse'}"
    command = RS + ["migrate", "--clickhouse-url", url, "--state-dir", str(tmp_path / "state")]  # ClickHouse only
    first = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert [f.stem for f in files] == re.search(r"migrations applied: (.+?);", first.stdout).group(1).split(", ")
    assert f"schema version {int(files[-1].name[:3])}" in first.stdout
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "migrations applied: none pending;" in again.stdout, again.stderr
    listed = subprocess.run([sys.executable, "-c", TABLES, url], capture_output=True, text=True, timeout=120)
    tables, recorded = listed.stdout.split("\n")[:2]
    assert created | {"schema_migrations"} <= set(tables.split())
    assert int(recorded) == len(files)  # each recorded once, though run twice
