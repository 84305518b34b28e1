"""JARs from Maven Central: coordinates pinned in `jars/<bundle>/pom.xml`, checksums pinned in `jars/jars.lock`.

Maven resolves the transitive runtime closure (with its own SHA-1 checks, `-C`); this module then
checks every file against the SHA-256 recorded in the lock, so a changed artifact fails loudly.
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from riskstream.core import paths
from riskstream.core.errors import ChecksumMismatch, MissingTool, RiskstreamError

BUNDLES = ("kafka-broker", "flink-connectors", "schema-registry", "flink-model-triton")
ARTIFACT_PATTERNS = ("*.jar", "*.tar.gz")  # JARs, and the registry's ready-to-run app archive
LOCK_FILE = paths.JARS_SPEC_DIR / "jars.lock"


def bundle_dir(bundle: str) -> Path:
    return paths.JAR_CACHE_DIR / bundle


def _artifacts(folder: Path) -> list[Path]:
    return sorted(p for pattern in ARTIFACT_PATTERNS for p in folder.glob(pattern)) if folder.exists() else []


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_lock() -> dict[str, str]:
    """Map `bundle/file.jar` -> sha256 from the lock file."""
    entries: dict[str, str] = {}
    for number, line in enumerate(LOCK_FILE.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2:
            raise RiskstreamError(f"{LOCK_FILE}:{number}: expected '<sha256> <bundle/file.jar>', got {line!r}")
        digest, name = parts
        entries[name] = digest
    return entries


def _artifacts_listed(bundle: str) -> list[str] | None:
    """The coordinates of a bundle copied artifact by artifact (`artifacts.txt`), or None for a `pom.xml` one."""
    listing = paths.JARS_SPEC_DIR / bundle / "artifacts.txt"
    if not listing.exists():
        return None
    return [line.strip() for line in listing.read_text().splitlines() if line.strip() and not line.startswith("#")]


def _resolve(bundle: str) -> None:
    """Let Maven copy the bundle into the cache folder: a pom.xml's runtime closure, or the artifacts
    `artifacts.txt` lists, each alone (for an artifact whose POM Maven cannot read)."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise MissingTool("mvn (Apache Maven) is needed to fetch JARs from Maven Central: apt-get install maven")
    target = bundle_dir(bundle)
    if target.exists():
        shutil.rmtree(target)
    listed = _artifacts_listed(bundle)
    if listed is None:
        commands = [[mvn, "-B", "-q", "-C", "-f", str(paths.JARS_SPEC_DIR / bundle / "pom.xml"),
                     "dependency:copy-dependencies", f"-DoutputDirectory={target}", "-DincludeScope=runtime"]]
    else:
        commands = [[mvn, "-B", "-q", "-C", "dependency:copy", f"-Dartifact={coordinates}",
                     f"-DoutputDirectory={target}"] for coordinates in listed]
    for command in commands:
        # Outside any project folder: `dependency:copy` then reads no POM of ours.
        result = subprocess.run(command, capture_output=True, text=True, cwd=paths.JARS_SPEC_DIR / bundle)
        if result.returncode != 0:
            raise RiskstreamError(f"Maven could not resolve the {bundle} JARs:\n{result.stdout[-2000:]}"
                                  f"{result.stderr[-2000:]}")


def _verify(bundle: str, lock: dict[str, str]) -> list[str]:
    """Problems with the cached bundle against the lock; empty when it matches exactly."""
    folder = bundle_dir(bundle)
    expected = {name.split("/", 1)[1]: digest for name, digest in lock.items() if name.startswith(bundle + "/")}
    present = {p.name for p in _artifacts(folder)}
    problems = [f"missing {bundle}/{name}" for name in sorted(expected.keys() - present)]
    problems += [f"unexpected {bundle}/{name}" for name in sorted(present - expected.keys())]
    for name in sorted(expected.keys() & present):
        actual = _sha256(folder / name)
        if actual != expected[name]:
            problems.append(f"checksum of {bundle}/{name} is {actual}, the lock says {expected[name]}")
    return problems


def ensure(bundle: str) -> list[Path]:
    """Return the bundle's verified JARs, fetching them from Maven Central first when needed."""
    lock = read_lock()
    if _verify(bundle, lock):
        _resolve(bundle)
        problems = _verify(bundle, lock)
        if problems:
            raise ChecksumMismatch(f"{bundle} JARs do not match {LOCK_FILE.name}: " + "; ".join(problems))
    return _artifacts(bundle_dir(bundle))


def ensure_all() -> dict[str, list[Path]]:
    return {bundle: ensure(bundle) for bundle in BUNDLES}


def write_lock() -> Path:
    """Resolve every bundle afresh and record its checksums (run after changing a pom.xml)."""
    lines = ["# sha256 of every JAR riskstream uses; regenerate with `riskstream jars lock` after editing a pom.xml."]
    for bundle in BUNDLES:
        _resolve(bundle)
        for jar in _artifacts(bundle_dir(bundle)):
            lines.append(f"{_sha256(jar)} {bundle}/{jar.name}")
    LOCK_FILE.write_text("\n".join(lines) + "\n")
    return LOCK_FILE
