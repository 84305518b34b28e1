"""A Confluent-compatible schema registry, through confluent-kafka's own `SchemaRegistryClient`.

The client caches schemas by id, retries transient network errors and speaks the API every such
registry offers (Confluent's, Apicurio's `/apis/ccompat/v7`, Karapace). This module adds what the
project needs on top: parsed writer schemas by id for the decoder (None when the registry has no
such id, `SchemaRegistryUnavailable` with the address when it cannot be asked), and registering the
checked-in schema history under BACKWARD compatibility.
"""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError
from fastavro.schema import SchemaParseException, parse_schema

from riskstream.core.config import RegistrySettings
from riskstream.core.errors import SchemaRegistryUnavailable

COMPATIBILITY = "BACKWARD"  # a new version must read data written with the previous one
_NOT_FOUND = (40401, 40403)  # subject not found, schema not found


class Registry:
    """One registry: look schemas up by id, register versions, set compatibility."""

    def __init__(self, settings: RegistrySettings, timeout_s: float = 10.0):
        self.settings = settings
        config = {"url": settings.url, "timeout": timeout_s, "max.retries": 2}
        if settings.user_info:
            config["basic.auth.user.info"] = str(settings.user_info)
        self._client = SchemaRegistryClient(config)

    def schema_by_id(self, schema_id: int) -> dict | None:
        """The parsed Avro schema with this id; None when the registry has none (or not an Avro one)."""
        try:
            schema = self._call(self._client.get_schema, schema_id)
        except SchemaRegistryError as exc:
            if exc.error_code in _NOT_FOUND or exc.http_status_code == 404:
                return None
            raise
        if schema.schema_type not in (None, "AVRO"):
            return None
        try:
            return parse_schema(json.loads(schema.schema_str))
        except (ValueError, SchemaParseException):
            return None

    def register(self, subject: str, schema_text: str) -> int:
        """Register one version (idempotent: an identical schema gets its existing id)."""
        return self._call(self._client.register_schema, subject, Schema(schema_text, "AVRO"))

    def set_compatibility(self, subject: str, level: str = COMPATIBILITY) -> str:
        return self._call(self._client.set_compatibility, subject, level)

    def register_history(self, subject: str, versions: list[str]) -> list[int]:
        """Set BACKWARD compatibility on `subject`, then register every version in order; return their ids.

        The compatibility is set first (registries default to NONE or BACKWARD; Apicurio to NONE), so a
        version that would break readers is refused (409) instead of silently accepted.
        """
        self.set_compatibility(subject)
        return [self.register(subject, text) for text in versions]

    def _call(self, method, *args):
        try:
            return method(*args)
        except SchemaRegistryError as exc:
            if exc.http_status_code >= 500:
                raise SchemaRegistryUnavailable("schema registry", self.settings.url, str(exc)) from exc
            raise
        except Exception as exc:  # noqa: BLE001 - the client's HTTP library raises its own transport errors
            raise SchemaRegistryUnavailable("schema registry", self.settings.url,
                                            f"{type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        self._client.close()


def require_ready(url: str, wait_s: float = 15.0) -> None:
    """Fail fast, with the address, when the registry does not answer its API within `wait_s` (down, or a
    wrong URL: a URL without the API's path would make every Confluent record an unknown schema id).
    One slow answer is not an outage: a registry on a busy machine can take seconds."""
    deadline = time.monotonic() + wait_s
    while not is_ready(url):
        if time.monotonic() < deadline:
            time.sleep(1.0)
            continue
        raise SchemaRegistryUnavailable("schema registry", url, "GET /subjects did not answer 200; the URL must be "
                                        "the Confluent-compatible API's root (Apicurio: .../apis/ccompat/v7)")


def is_ready(url: str) -> bool:
    """True when the registry answers its subjects listing."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/subjects", timeout=2.0) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False
