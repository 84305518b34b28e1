"""One base exception for everything riskstream raises on purpose; context lives in fields."""
from __future__ import annotations

from enum import StrEnum


class RiskstreamError(Exception):
    """Base class: the message says what went wrong and what to do about it."""


class ConfigError(RiskstreamError):
    """A setting is missing or invalid."""


class ServiceUnavailable(RiskstreamError):
    """A service could not be reached; carries the address that was tried."""

    def __init__(self, service: str, address: str, detail: str = ""):
        self.service = service
        self.address = address
        self.detail = detail
        hint = f": {detail}" if detail else ""
        super().__init__(f"{service} is not reachable at {address}{hint}")


class NotAuthorized(RiskstreamError):
    """The broker refused an operation to the user the client authenticated as (its ACLs do not grant it)."""

    def __init__(self, address: str, user: str, operation: str, resource: str, hint: str = ""):
        self.address = address
        self.user = user
        self.operation = operation
        self.resource = resource
        who = f"user {user}" if user else "an unauthenticated client"
        super().__init__(f"Kafka at {address} refused {operation} on {resource} to {who}"
                         f"{': ' + hint if hint else ''}")


class EmbeddedPathHeld(ServiceUnavailable):
    """An embedded ClickHouse (chDB) path is open in another process; one process at a time may open it."""

    def __init__(self, address: str, pid: int, holder: str):
        self.pid = pid
        super().__init__("ClickHouse", address, f"the path is held by {holder}; an embedded ClickHouse admits one "
                         f"process at a time: stop that one, or point --clickhouse-url at a ClickHouse server")


class PortInUse(RiskstreamError):
    """A port the stack wants is taken by another process."""

    def __init__(self, service: str, port: int, env_var: str):
        self.service = service
        self.port = port
        super().__init__(
            f"port {port} on 127.0.0.1 (for {service}) is in use by another process: "
            f"stop that process, or set {env_var} to a free port (0 picks one)"
        )


class ServiceFailedToStart(RiskstreamError):
    """A service process exited or never became ready; points at its log."""

    def __init__(self, service: str, log_path: str, detail: str):
        self.service = service
        self.log_path = log_path
        super().__init__(f"{service} failed to start ({detail}); see its log: {log_path}")


class MissingTool(RiskstreamError):
    """A program the stack needs (java, mvn) is not installed."""


class ChecksumMismatch(RiskstreamError):
    """A downloaded artifact does not match the checksum pinned in the repository."""


class ErrorCode(StrEnum):
    """Why an input record was not counted: set where the failure is raised, stored with every dead letter.

    The values are stable: dashboards, alerts and the dead-letter schema name them.
    """

    TOMBSTONE = "tombstone"                       # a null value (a Kafka delete marker)
    EMPTY_PAYLOAD = "empty_payload"               # a zero-length value
    NOT_AVRO = "not_avro"                         # no known wire-format header
    UNKNOWN_SCHEMA = "unknown_schema"             # single-object fingerprint not in the schema history
    UNKNOWN_SCHEMA_ID = "unknown_schema_id"       # Confluent schema id the registry does not know
    INCOMPATIBLE_SCHEMA = "incompatible_schema"   # writer schema cannot be resolved to the reader schema
    SCHEMA_MISMATCH = "schema_mismatch"           # body does not decode with its writer schema
    TRAILING_BYTES = "trailing_bytes"             # bytes left after the record
    ABSURD_EVENT_TIME = "absurd_event_time"       # event time before 2000 or far from the Kafka timestamp
    INVALID_DIMENSION = "invalid_dimension"       # a slice dimension outside the allowed characters or length
    INVALID_LABEL = "invalid_label"               # a moderation label naming no item, or a category the model lacks
    UNEXPECTED_ERROR = "unexpected_error"         # a bug: the record is kept so nothing is lost


class DecodeError(RiskstreamError):
    """A record could not be decoded or validated; `code` says why, the message says the details."""

    def __init__(self, code: ErrorCode, message: str):
        self.code = code
        super().__init__(message)


class SchemaRegistryUnavailable(ServiceUnavailable):
    """The schema registry did not answer (not: answered that it has no such schema)."""


class PolicyError(RiskstreamError):
    """A policy is invalid; carries where it came from and the line (a file) or the field (a record) at fault."""

    def __init__(self, source: str, line: int | None, detail: str, field: str | None = None):
        self.source = source
        self.line = line
        self.field = field
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {f'field {field}: ' if field else ''}{detail}")
