"""The local broker's users under `--kafka-auth scram`: their passwords, kept beside the broker's data
(readable by its owner only), and the settings or environment a client needs to authenticate as one."""
from __future__ import annotations

import json
import os
import secrets
from dataclasses import replace
from pathlib import Path

from riskstream.core import kafka_access
from riskstream.core.config import (KAFKA_SASL_MECHANISM, KAFKA_SASL_PASSWORD, KAFKA_SASL_USERNAME,
                                    KAFKA_SECURITY_PROTOCOL, KAFKA_SSL_CA_LOCATION, KafkaSecurity, KafkaSettings,
                                    Secret)
from riskstream.core.errors import ConfigError
from riskstream.stack import kafka_tls

USERS_FILE = "users.json"
MECHANISM = "SCRAM-SHA-512"


def _path(state_dir: Path) -> Path:
    return state_dir / "kafka" / USERS_FILE


def ensure_passwords(state_dir: Path) -> dict[str, str]:
    """The admin's and every project user's password, made once per state folder."""
    path = _path(state_dir)
    known = json.loads(path.read_text()) if path.exists() else {}
    wanted = [kafka_access.ADMIN, *(u.name for u in kafka_access.users(KafkaSettings("")))]
    if all(name in known for name in wanted):
        return known
    known.update({name: secrets.token_urlsafe(24) for name in wanted if name not in known})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(known, indent=2))
    return known


def passwords(state_dir: Path) -> dict[str, str]:
    path = _path(state_dir)
    if not path.exists():
        raise ConfigError(f"{path} does not exist: the local broker was not started with --kafka-auth scram")
    return json.loads(path.read_text())


def ca_location(state_dir: Path) -> Path:
    """The local CA's certificate, which the broker's is signed by (`riskstream.stack.kafka_tls`)."""
    return kafka_tls.files(kafka_tls.folder(state_dir)).ca


def security(state_dir: Path, user: str) -> KafkaSecurity:
    return KafkaSecurity("SASL_SSL", MECHANISM, user, Secret(passwords(state_dir)[user]), str(ca_location(state_dir)))


def as_user(kafka: KafkaSettings, state_dir: Path, user: str) -> KafkaSettings:
    """`kafka` authenticating as `user` of the local broker."""
    return replace(kafka, security=security(state_dir, user))


def environment(state_dir: Path, user: str) -> dict[str, str]:
    """The environment that makes a riskstream process authenticate as `user` (flags would show in `ps`)."""
    found = security(state_dir, user)
    return {**os.environ, KAFKA_SECURITY_PROTOCOL.env: found.protocol, KAFKA_SASL_MECHANISM.env: MECHANISM,
            KAFKA_SASL_USERNAME.env: user, KAFKA_SASL_PASSWORD.env: str(found.password),
            KAFKA_SSL_CA_LOCATION.env: found.ca_location}
