"""The project's own Flink operator classes (`jobs/java/`), compiled against the pinned PyFlink's JARs.

Built on first use into the JAR cache, named by a digest of the sources and the Flink JARs they were
compiled against, so an edit or a PyFlink upgrade builds a new JAR and a stale one is never used.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from riskstream.core import paths
from riskstream.core.errors import MissingTool, RiskstreamError

NAME = "riskstream-operators"


def pyflink_home() -> Path:
    """The installed PyFlink's folder (its `lib/` and `opt/` hold Flink's JARs); PyFlink is not imported."""
    spec = importlib.util.find_spec("pyflink")
    if spec is None or spec.origin is None:
        raise MissingTool("apache-flink (PyFlink) is not installed in this environment")
    return Path(spec.origin).parent


def compile_classpath(home: Path | None = None) -> list[Path]:
    """flink-python (the operator it extends) and flink-dist (Flink's streaming API)."""
    home = home or pyflink_home()
    found = sorted(home.glob("opt/flink-python-*.jar")) + sorted(home.glob("lib/flink-dist-*.jar"))
    if len(found) != 2:
        raise RiskstreamError(f"expected one flink-python and one flink-dist JAR under {home}, found {found}")
    return found


def _javac() -> str:
    java_home = os.environ.get("JAVA_HOME")
    candidates = [str(Path(java_home) / "bin" / "javac")] if java_home else []
    candidates.append(shutil.which("javac") or "")
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    raise MissingTool("javac (a JDK 17 or newer) is needed to build the project's Flink operators: "
                      "apt-get install openjdk-17-jdk-headless, or set JAVA_HOME")


def sources() -> list[Path]:
    return sorted(paths.JAVA_SOURCES_DIR.rglob("*.java"))


def _digest(files: list[Path], classpath: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(paths.JAVA_SOURCES_DIR)).encode() + b"\0" + path.read_bytes())
    for jar in classpath:
        digest.update(jar.name.encode() + b"\0")
    return digest.hexdigest()[:16]


def ensure() -> Path:
    """The operators' JAR, compiled now if this version of the sources has not been built yet."""
    files, classpath = sources(), compile_classpath()
    target = paths.JAR_CACHE_DIR / NAME / f"{NAME}-{_digest(files, classpath)}.jar"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="riskstream-javac-") as scratch:
        classes = Path(scratch) / "classes"
        command = [_javac(), "--release", "17", "-nowarn", "-d", str(classes),
                   "-cp", os.pathsep.join(str(jar) for jar in classpath), *map(str, files)]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise RiskstreamError(f"javac could not build {NAME}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
        partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as jar:
            jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nCreated-By: riskstream\n")
            for path in sorted(classes.rglob("*.class")):
                jar.write(path, path.relative_to(classes).as_posix())
        # Renamed into place: a job starting beside this build sees the whole JAR or none.
        os.replace(partial, target)
    for stale in target.parent.glob(f"{NAME}-*.jar"):
        if stale != target:
            stale.unlink(missing_ok=True)
    return target
