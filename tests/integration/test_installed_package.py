"""riskstream installed from its wheel, not run from the repository: what the commands and jobs read at run time
(schema histories, ClickHouse migrations, OpenLineage facet schemas, the default policy, the alert rules) comes
with the package, so an image that `pip install`s the project (k8s/images/app.Dockerfile) needs no checkout."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

from riskstream.core import paths, schemas
from riskstream.io import clickhouse, openlineage
from udfs.wire import SchemaHistory

READ_BACK = """
import json
from riskstream.core import paths, schemas
from riskstream.io import clickhouse, openlineage
from udfs import policy
from udfs.wire import SchemaHistory
print(json.dumps({
    "root": str(paths.REPO_ROOT),
    "histories": {name: len(SchemaHistory.from_folder(getattr(schemas, name)).schemas)
                  for name in ("IMPRESSION_HISTORY", "VERDICT_HISTORY", "DEAD_LETTER_HISTORY", "FORGET_REQUEST_HISTORY")},
    "migrations": [m.name for m in clickhouse.load_migrations()],
    "facets": sorted(p.name for p in openlineage.SCHEMAS.glob("*.json")),
    "policy": policy.load(paths.DEFAULT_POLICY).version,
    "alert_rules": paths.ALERT_RULES_FILE.is_file(),
}))
"""


def test_the_installed_wheel_reads_its_own_schemas_migrations_and_policy(tmp_path):
    wheels, site, source = tmp_path / "wheels", tmp_path / "site", tmp_path / "source"
    # A clean copy of what the wheel is built from: setuptools' build/ folder in the repository keeps files of
    # earlier builds, which would hide a file the package data no longer names.
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("riskstream", "jobs", "udfs", "dashboards", "schemas", "policies"):
        shutil.copytree(paths.REPO_ROOT / name, source / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(paths.REPO_ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(source)],
                   check=True, capture_output=True, timeout=300)
    [wheel] = wheels.glob("riskstream-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    # Outside the repository, with the installed copy first on the path (its dependencies from this environment).
    result = subprocess.run([sys.executable, "-c", READ_BACK], cwd=tmp_path, env={"PYTHONPATH": str(site)},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    installed = json.loads(result.stdout)
    assert installed["root"] == str(site)  # not the repository's files
    assert installed["histories"] == {
        name: len(SchemaHistory.from_folder(getattr(schemas, name)).schemas)
        for name in ("IMPRESSION_HISTORY", "VERDICT_HISTORY", "DEAD_LETTER_HISTORY", "FORGET_REQUEST_HISTORY")}
    assert installed["migrations"] == [m.name for m in clickhouse.load_migrations()]
    assert installed["facets"] == sorted(p.name for p in openlineage.SCHEMAS.glob("*.json"))
    assert installed["policy"] and installed["alert_rules"]
