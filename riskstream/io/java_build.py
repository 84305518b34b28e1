"""The project's few Java classes, compiled against the installed PyFlink's JARs into the JAR cache.

`operators()`: the job's keyed operator (`jobs/java/`). `bench/` builds its ML_PREDICT wrapper with `build`.
Each JAR is built on first use, named by a digest of its sources (resources included) and of the JARs it
was compiled against, so an edit or a PyFlink upgrade builds a new JAR and a stale one is never used.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from riskstream.core import paths
from riskstream.core.errors import MissingTool, RiskstreamError

OPERATORS = "riskstream-operators"


def flink_jar(pattern: str, home: Path | None = None) -> Path:
    """One of the installed PyFlink's JARs, e.g. `opt/flink-python-*.jar`."""
    home = home or paths.pyflink_home()
    found = sorted(home.glob(pattern))
    if len(found) != 1:
        raise RiskstreamError(f"expected one {pattern} under {home}, found {found}")
    return found[0]


def compile_classpath() -> list[Path]:
    """flink-python (the operators PyFlink runs) and flink-dist (Flink's streaming API and runtime)."""
    return [flink_jar("opt/flink-python-*.jar"), flink_jar("lib/flink-dist-*.jar")]


def _javac() -> str:
    java_home = os.environ.get("JAVA_HOME")
    candidates = [str(Path(java_home) / "bin" / "javac")] if java_home else []
    candidates.append(shutil.which("javac") or "")
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    raise MissingTool("javac (a JDK 17 or newer) is needed to build the project's Flink operators: "
                      "apt-get install openjdk-17-jdk-headless, or set JAVA_HOME")


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _digest(folder: Path, files: list[Path], classpath: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    for jar in classpath:
        digest.update(jar.name.encode() + b"\0")
    return digest.hexdigest()[:16]


def build(name: str, folder: Path, classpath: list[Path]) -> Path:
    """The JAR of the `.java` files under `folder` (other files there, e.g. META-INF/services, go in as
    resources), compiled now if this version of them has not been built yet."""
    files = _files(folder)
    target = paths.JAR_CACHE_DIR / name / f"{name}-{_digest(folder, files, classpath)}.jar"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="riskstream-javac-") as scratch:
        classes = Path(scratch) / "classes"
        command = [_javac(), "--release", "17", "-nowarn", "-d", str(classes),
                   "-cp", os.pathsep.join(str(jar) for jar in classpath),
                   *(str(p) for p in files if p.suffix == ".java")]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise RiskstreamError(f"javac could not build {name}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
        partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as jar:
            jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nCreated-By: riskstream\n")
            for path in sorted(classes.rglob("*.class")):
                jar.write(path, path.relative_to(classes).as_posix())
            for path in files:
                if path.suffix != ".java":
                    jar.write(path, path.relative_to(folder).as_posix())
        # Renamed into place: a job starting beside this build sees the whole JAR or none.
        os.replace(partial, target)
    for stale in target.parent.glob(f"{name}-*.jar"):
        if stale != target:
            stale.unlink(missing_ok=True)
    return target


def operators() -> Path:
    """The job's keyed operator (jobs/keyed.py) as a JAR."""
    return build(OPERATORS, paths.JAVA_SOURCES_DIR, compile_classpath())
