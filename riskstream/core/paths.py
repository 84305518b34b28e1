"""Where the project's files live; every other module asks here instead of guessing."""
from __future__ import annotations

import importlib.util
import sysconfig
from pathlib import Path

from riskstream.core.errors import MissingTool

# The project's root, or, installed from its wheel, the site-packages folder: the wheel carries schemas/,
# policies/ and dashboards/provisioning/ as package data beside riskstream/ (pyproject.toml), so every path
# below that the commands and jobs read resolves the same way in both.
REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMAS_DIR = REPO_ROOT / "schemas"
DEFAULT_POLICY = REPO_ROOT / "policies" / "default.toml"
ALERT_RULES_FILE = REPO_ROOT / "dashboards" / "provisioning" / "alerting" / "riskstream-rules.yaml"
CLICKHOUSE_MIGRATIONS_DIR = SCHEMAS_DIR / "clickhouse"
JARS_SPEC_DIR = REPO_ROOT / "jars"
MODEL_REPOSITORY = REPO_ROOT / "model_repository"
DATASETS_DIR = REPO_ROOT / "datasets"
LABELLED_CAPTIONS = DATASETS_DIR / "labelled_captions.csv"
CACHE_DIR = REPO_ROOT / ".cache"
JAR_CACHE_DIR = CACHE_DIR / "jars"
JAVA_SOURCES_DIR = REPO_ROOT / "jobs" / "java"  # the project's own Flink operator classes
DEFAULT_STATE_DIR = REPO_ROOT / ".riskstream"
TRITON_VENV = REPO_ROOT / ".venv-triton"


def python_libdir() -> Path:
    """The directory holding libpython, which tritonserver's Python backend links against."""
    return Path(sysconfig.get_config_var("LIBDIR"))


def pyflink_home() -> Path:
    """The installed PyFlink's folder: the Flink distribution the apache-flink wheel ships (`bin/`, `lib/`,
    `opt/`). PyFlink is not imported."""
    spec = importlib.util.find_spec("pyflink")
    if spec is None or spec.origin is None:
        raise MissingTool("apache-flink (PyFlink) is not installed in this environment")
    return Path(spec.origin).parent
