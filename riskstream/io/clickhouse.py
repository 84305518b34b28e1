"""ClickHouse access: one client factory for the embedded engine (chDB) and servers, and schema migrations.

`chdb:///abs/path` opens the embedded ClickHouse engine in this process; `http(s)://host:port` talks to a
server. Both go through clickhouse-connect, so DDL, inserts and queries are the same code and SQL.
An embedded path is locked by the one process that opens it: the writer owns it, readers come after.
`embedded_holder` says which process holds a path, from the engine's own `status` file.
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from riskstream.core import paths, retention as retention_classes
from riskstream.core.config import ClickHouseSettings, RetentionSettings
from riskstream.core.errors import EmbeddedPathHeld, RiskstreamError, ServiceUnavailable

_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
_STATUS_PID = re.compile(r"^PID: (\d+)$", re.MULTILINE)
_TTL = re.compile(r" TTL (.+?)(?: SETTINGS |$)")


@dataclass(frozen=True)
class Holder:
    """The process that has an embedded ClickHouse path open."""

    pid: int
    command: str


def embedded_path(settings: ClickHouseSettings) -> Path:
    return Path(settings.url.removeprefix("chdb://"))


def embedded_holder(path: Path) -> Holder | None:
    """The live process holding the engine lock on `path` (its `status` file names it), else None."""
    status = Path(path) / "status"
    try:
        match = _STATUS_PID.search(status.read_text(errors="replace"))
    except OSError:
        return None
    if match is None or not _has_open(int(match.group(1)), status.resolve()):
        return None  # the file outlives its writer; only an open descriptor means the lock is held
    pid = int(match.group(1))
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        command = "?"
    return Holder(pid, command[:160])


def _has_open(pid: int, target: Path) -> bool:
    try:
        descriptors = os.listdir(f"/proc/{pid}/fd")
    except FileNotFoundError:
        return False
    except PermissionError:
        return True  # another user's live process: assume it holds what its status file says
    for fd in descriptors:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == str(target):
                return True
        except OSError:
            continue
    return False


def require_embedded_free(settings: ClickHouseSettings) -> None:
    """Fail fast, naming the holder, when another process has the embedded path open."""
    if not settings.is_embedded:
        return
    holder = embedded_holder(embedded_path(settings))
    if holder is not None and holder.pid != os.getpid():
        raise EmbeddedPathHeld(settings.url, holder.pid, f"PID {holder.pid} ({holder.command})")


def connect(settings: ClickHouseSettings, database: str | None = None) -> Client:
    """A client for the configured ClickHouse; fails fast with the address it tried (and, for an
    embedded path another process holds, which process)."""
    try:
        if settings.is_embedded:
            embedded_path(settings).mkdir(parents=True, exist_ok=True)
            client = clickhouse_connect.get_client(dsn=settings.url)
        else:
            if settings.ca_cert and not Path(settings.ca_cert).is_file():
                raise ServiceUnavailable("ClickHouse", settings.url, f"the CA file {settings.ca_cert} "
                                         "(--clickhouse-ca-cert) does not exist")
            parsed = urlparse(settings.url)
            client = clickhouse_connect.get_client(
                host=parsed.hostname, port=parsed.port or (8443 if parsed.scheme == "https" else 8123),
                secure=parsed.scheme == "https", ca_cert=settings.ca_cert or None, username=settings.username,
                password=str(settings.password), connect_timeout=5, send_receive_timeout=60)
        if database:
            client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
            client.database = database
        return client
    except (ClickHouseError, OSError, RuntimeError) as exc:
        # The engine says only "Error initializing EmbeddedServer" (the lock error goes to stderr).
        holder = embedded_holder(embedded_path(settings)) if settings.is_embedded else None
        if holder is not None and holder.pid != os.getpid():
            raise EmbeddedPathHeld(settings.url, holder.pid, f"PID {holder.pid} ({holder.command})") from exc
        raise ServiceUnavailable("ClickHouse", settings.url, _reason(str(exc), settings)) from exc


def _reason(message: str, settings: ClickHouseSettings) -> str:
    """The first line of a client error, or what to do about a certificate the client did not trust."""
    if "CERTIFICATE_VERIFY_FAILED" in message:
        detail = re.search(r"certificate verify failed: ([^(]+?)\s*\(", message)
        trusted = f"the CA in {settings.ca_cert}" if settings.ca_cert else "the system's CAs"
        return (f"its TLS certificate is not signed by {trusted} ({detail.group(1) if detail else 'verify failed'}): "
                f"give the CA that signed it with --clickhouse-ca-cert (or RISKSTREAM_CLICKHOUSE_CA_CERT)")
    return message.splitlines()[0]


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def statements(self) -> list[str]:
        """The file's statements; each ends with a semicolon at the end of a line."""
        body = "\n".join(line for line in self.sql.splitlines() if not line.lstrip().startswith("--"))
        return [s.strip() for s in re.split(r";\s*$", body, flags=re.MULTILINE) if s.strip()]


def load_migrations(folder: Path = paths.CLICKHOUSE_MIGRATIONS_DIR) -> list[Migration]:
    migrations = []
    for path in sorted(folder.glob("*.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if not match:
            raise RiskstreamError(f"{path}: migration files are named NNN_snake_case.sql")
        migrations.append(Migration(int(match.group(1)), path.stem, path.read_text()))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise RiskstreamError(f"{folder}: two migrations share a version number")
    return migrations


def migrate(client: Client, migrations: list[Migration] | None = None,
            retention: RetentionSettings | None = None) -> list[str]:
    """Apply, in order, the migrations not yet recorded (refuse if an applied one was edited), then the
    tables' TTLs (`retention`, the defaults when not given).

    Forward-only: a change to the schema is a new file, never an edit of an applied one.
    """
    done = _migrate(client, migrations)
    apply_retention(client, retention or RetentionSettings())
    return done


def table_ttls(client: Client) -> dict[str, str | None]:
    """Each table of the client's database -> its TTL expression as ClickHouse prints it (None: none)."""
    rows = client.query("SELECT name, engine_full FROM system.tables WHERE database = currentDatabase() "
                        "AND NOT is_temporary").result_rows
    return {name: (match.group(1) if (match := _TTL.search(engine)) else None) for name, engine in rows}


def apply_retention(client: Client, settings: RetentionSettings) -> list[str]:
    """Set each table's TTL where it differs from `settings` (rows past it go at the next merge, existing parts
    are rewritten now); returns the tables changed. Tables not yet created are left to a later run."""
    current = table_ttls(client)
    changed = []
    for table in retention_classes.TABLES:
        wanted = table.ttl(settings)
        if table.table in current and current[table.table] != wanted:
            client.command(f"ALTER TABLE {table.table} MODIFY TTL {wanted}")
            changed.append(table.table)
    return changed


def _migrate(client: Client, migrations: list[Migration] | None) -> list[str]:
    migrations = load_migrations() if migrations is None else migrations
    client.command(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, checksum String, "
        "applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) ENGINE = MergeTree ORDER BY version")
    applied = {row[0]: (row[1], row[2]) for row in
               client.query("SELECT version, name, checksum FROM schema_migrations").result_rows}
    done = []
    for migration in migrations:
        if migration.version in applied:
            name, checksum = applied[migration.version]
            if checksum != migration.checksum:
                raise RiskstreamError(
                    f"migration {migration.name} was edited after it was applied; add a new migration instead")
            continue
        for statement in migration.statements():
            client.command(statement)
        client.insert("schema_migrations", [[migration.version, migration.name, migration.checksum]],
                      column_names=["version", "name", "checksum"])
        done.append(migration.name)
    return done


def schema_version(client: Client) -> int:
    rows = client.query("SELECT max(version) FROM schema_migrations").result_rows
    return int(rows[0][0] or 0)
