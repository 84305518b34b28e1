"""The local schema registry: Apicurio Registry, run from its pinned Maven Central archive.

It serves the Confluent-compatible API (`/apis/ccompat/v7`) that confluent-kafka's serializers and
`SchemaRegistryClient` speak, keeps its schemas in an H2 file under the state folder (so ids survive
a restart, as the records that carry them do), and gets the impression schema history registered
under BACKWARD compatibility each time the stack comes up.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tarfile
from pathlib import Path

from riskstream.io import processes
from riskstream.core import paths, schemas
from riskstream.core.config import REGISTRY_MANAGEMENT_PORT, REGISTRY_PORT, RegistrySettings, StackSettings
from riskstream.core.errors import MissingTool
from riskstream.io import registry as registry_client
from riskstream.io import jars
from riskstream.stack import process
from riskstream.io.stack_state import ServiceRecord

NAME = "registry"
CCOMPAT_PATH = "/apis/ccompat/v7"
MIN_JAVA = 21  # Apicurio 3 is built for Java 21


def java_major(java: str) -> int:
    """The major version a `java` binary reports, 0 when it does not run."""
    try:
        result = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    match = re.search(r'version "(\d+)', result.stderr + result.stdout)
    return int(match.group(1)) if match else 0


def find_java(requested: str) -> str:
    """The requested java, else the newest JDK on this machine that is 21 or later."""
    if requested:
        if java_major(requested) < MIN_JAVA:
            raise MissingTool(f"{requested} is not Java {MIN_JAVA}+, which the schema registry needs")
        return requested
    candidates = [str(p) for p in Path("/usr/lib/jvm").glob("*/bin/java")] + [shutil.which("java") or ""]
    versions = sorted(((java_major(c), c) for c in set(candidates) if c), reverse=True)
    if not versions or versions[0][0] < MIN_JAVA:
        raise MissingTool(f"the schema registry needs Java {MIN_JAVA}+ and none was found (found: "
                          f"{', '.join(f'{c} ({v})' for v, c in versions) or 'none'}); install a JDK 21+ "
                          f"(e.g. apt-get install openjdk-21-jre-headless) or set RISKSTREAM_REGISTRY_JAVA")
    return versions[0][1]


def app_dir() -> Path:
    """The unpacked registry app (`quarkus-run.jar` and its libs), unpacked once from the verified archive."""
    [archive] = [p for p in jars.ensure("schema-registry") if p.name.endswith(".tar.gz")]
    target = paths.CACHE_DIR / archive.name.removesuffix(".tar.gz")
    marker = target / ".unpacked"
    if not marker.exists():
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        with tarfile.open(archive) as tar:
            tar.extractall(target, filter="data")
        marker.touch()
    return target


def ccompat_url(port: int) -> str:
    return f"http://127.0.0.1:{port}{CCOMPAT_PATH}"


def start(settings: StackSettings, previous: ServiceRecord | None) -> ServiceRecord:
    """Start the registry, wait until it answers, and register the impression schema history."""
    log_path = settings.state_dir / "logs" / "registry.log"
    java = find_java(settings.registry_java)
    app = app_dir()
    ports = {}
    for key, requested, option in (("http", settings.registry_port, REGISTRY_PORT),
                                   ("management", settings.registry_management_port, REGISTRY_MANAGEMENT_PORT)):
        if previous and requested == 0:
            requested = int(previous.details.get(f"{key}_port", 0))
        ports[key] = process.claim_port(requested, f"schema registry {key}", option.env)
    database = settings.state_dir / NAME / "db"
    database.parent.mkdir(parents=True, exist_ok=True)
    command = [
        java, "-Xmx384m", "-Djava.awt.headless=true",
        "-Dquarkus.http.host=127.0.0.1", f"-Dquarkus.http.port={ports['http']}",
        "-Dquarkus.management.host=127.0.0.1", f"-Dquarkus.management.port={ports['management']}",
        f"-Dapicurio.datasource.url=jdbc:h2:file:{database}",
        # A local registry needs a handful of connections, not the default pool of 20 to 100.
        "-Dapicurio.datasource.jdbc.initial-size=2", "-Dapicurio.datasource.jdbc.min-size=2",
        "-Dapicurio.datasource.jdbc.max-size=10",
        "-jar", str(app / "quarkus-run.jar"),
    ]
    pid = process.spawn(command, log_path, cwd=settings.state_dir / NAME)
    url = ccompat_url(ports["http"])
    process.wait_ready("schema registry", pid, log_path, lambda: registry_client.is_ready(url), timeout_s=120)
    ids = register_impression_history(url)
    return ServiceRecord(pid=pid, address=url, log_path=str(log_path),
                         details={"http_port": str(ports["http"]), "management_port": str(ports["management"]),
                                  "impression_schema_ids": ",".join(map(str, ids))})


def register_impression_history(url: str) -> list[int]:
    """Register every checked-in impression schema version (idempotent), BACKWARD compatible, under the
    default impressions topic's subject."""
    settings = RegistrySettings(url=url)
    client = registry_client.Registry(settings)
    try:
        return client.register_history(settings.subject, [f.text for f in schemas.versions(schemas.IMPRESSION_HISTORY)])
    finally:
        client.close()


def is_healthy(record: ServiceRecord) -> bool:
    return processes.pid_alive(record.pid) and registry_client.is_ready(record.address)
