"""Typed configuration, one frozen dataclass per concern, built once from CLI flags with env-var defaults.

Every option is declared once (`Option`): its flag, its env var and its default. `--help` shows
the env var behind each flag, and `describe()` prints a settings object with secrets masked.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

from riskstream.core import paths
from riskstream.core.errors import ConfigError


class Secret(str):
    """A string that never shows its value in repr, logs or printed settings."""

    def __repr__(self) -> str:
        return "'***'" if self else "''"


@dataclass(frozen=True)
class Option:
    """One setting: the flag users type, the env var that sets its default, and the fallback."""

    flag: str
    env: str
    default: object
    help: str
    type: type = str

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    def add_to(self, parser: argparse.ArgumentParser, default: object | None = None) -> None:
        fallback = self.default if default is None else default
        raw = os.environ.get(self.env)
        value = self.type(raw) if raw is not None else fallback
        shown = "(local stack)" if fallback is None else repr(fallback)
        parser.add_argument(
            self.flag, dest=self.dest, type=self.type, default=value,
            help=f"{self.help} [env {self.env}; default {shown}]",
        )


# --- the local stack -------------------------------------------------------------------------

STATE_DIR = Option("--state-dir", "RISKSTREAM_STATE_DIR", str(paths.DEFAULT_STATE_DIR),
                   "folder for the local stack's data, logs and pid files")
KAFKA_PORT = Option("--kafka-port", "RISKSTREAM_KAFKA_PORT", 19092, "Kafka broker port (0 picks a free one)", int)
KAFKA_CONTROLLER_PORT = Option("--kafka-controller-port", "RISKSTREAM_KAFKA_CONTROLLER_PORT", 19093,
                               "Kafka KRaft controller port (0 picks a free one)", int)
TRITON_HTTP_PORT = Option("--triton-http-port", "RISKSTREAM_TRITON_HTTP_PORT", 18000,
                          "Triton HTTP port (0 picks a free one)", int)
TRITON_GRPC_PORT = Option("--triton-grpc-port", "RISKSTREAM_TRITON_GRPC_PORT", 18001,
                          "Triton gRPC port (0 picks a free one)", int)
TRITON_METRICS_PORT = Option("--triton-metrics-port", "RISKSTREAM_TRITON_METRICS_PORT", 18002,
                             "Triton Prometheus metrics port (0 picks a free one)", int)
REGISTRY_PORT = Option("--registry-port", "RISKSTREAM_REGISTRY_PORT", 18081,
                       "schema registry (Apicurio) HTTP port (0 picks a free one)", int)
REGISTRY_MANAGEMENT_PORT = Option("--registry-management-port", "RISKSTREAM_REGISTRY_MANAGEMENT_PORT", 18082,
                                  "schema registry management (health) port (0 picks a free one)", int)
REGISTRY_JAVA = Option("--registry-java", "RISKSTREAM_REGISTRY_JAVA", "",
                       "java (21+) that runs the schema registry (default: the newest JDK found)")
KAFKA_HEAP = Option("--kafka-heap", "RISKSTREAM_KAFKA_HEAP", "512m", "Kafka broker JVM heap (-Xmx)")
GUARD_PORT = Option("--guard-port", "RISKSTREAM_GUARD_PORT", 18090, "the local guard's HTTP port (0 picks a free one)",
                    int)
MODEL_REPOSITORY = Option("--model-repository", "RISKSTREAM_MODEL_REPOSITORY", str(paths.MODEL_REPOSITORY),
                          "Triton model repository the local server loads")
TRITON_MODEL_CONFIG = Option("--triton-model-config", "RISKSTREAM_TRITON_MODEL_CONFIG", "",
                             "the model configuration Triton loads: a name from <model>/configs/ (e.g. gpu), or "
                             "empty for config.pbtxt")
# Triton's --model-control-mode: "none" loads the repository at start only; "poll" makes a version folder
# added to the repository live (a reload, e.g. version 2 beside 1); "explicit" loads through its API.
TRITON_MODEL_CONTROL_MODES = ("none", "poll", "explicit")
TRITON_MODEL_CONTROL = Option("--triton-model-control", "RISKSTREAM_TRITON_MODEL_CONTROL", "none",
                              "how the local Triton (re)loads models: none (at start only), poll (a new version "
                              "folder in the repository goes live) or explicit (through its repository API)")

KAFKA_AUTH_MODES = ("none", "scram")
KAFKA_AUTH = Option("--kafka-auth", "RISKSTREAM_KAFKA_AUTH", "none",
                    "how the local broker admits clients: none, or scram (SASL/SCRAM-SHA-512 with ACLs: the "
                    "project's Kafka users and grants, their passwords in <state dir>/kafka/users.json)")

STACK_OPTIONS = (STATE_DIR, KAFKA_AUTH, KAFKA_PORT, KAFKA_CONTROLLER_PORT, TRITON_HTTP_PORT, TRITON_GRPC_PORT,
                 TRITON_METRICS_PORT, REGISTRY_PORT, REGISTRY_MANAGEMENT_PORT, REGISTRY_JAVA, KAFKA_HEAP,
                 MODEL_REPOSITORY, GUARD_PORT, TRITON_MODEL_CONFIG, TRITON_MODEL_CONTROL)


@dataclass(frozen=True)
class StackSettings:
    """Where and how the local stack of real services runs."""

    state_dir: Path = paths.DEFAULT_STATE_DIR
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    triton_http_port: int = 18000
    triton_grpc_port: int = 18001
    triton_metrics_port: int = 18002
    registry_port: int = 18081
    registry_management_port: int = 18082
    registry_java: str = ""
    kafka_heap: str = "512m"
    model_repository: Path = paths.MODEL_REPOSITORY
    guard_port: int = 18090
    triton_model_config: str = ""  # Triton's --model-config-name: <model>/configs/<name>.pbtxt
    triton_model_control: str = "none"  # one of TRITON_MODEL_CONTROL_MODES
    kafka_auth: str = "none"  # one of KAFKA_AUTH_MODES

    def __post_init__(self) -> None:
        if self.kafka_auth not in KAFKA_AUTH_MODES:
            raise ConfigError(f"{KAFKA_AUTH.flag}: {self.kafka_auth!r} is not one of {', '.join(KAFKA_AUTH_MODES)}")
        if self.triton_model_control not in TRITON_MODEL_CONTROL_MODES:
            raise ConfigError(f"{TRITON_MODEL_CONTROL.flag}: {self.triton_model_control!r} is not one of "
                              f"{', '.join(TRITON_MODEL_CONTROL_MODES)}")

    @property
    def clickhouse_path(self) -> Path:
        """The embedded ClickHouse (chDB) data folder of the local stack."""
        return self.state_dir / "clickhouse"

    @property
    def clickhouse_url(self) -> str:
        return f"chdb://{self.clickhouse_path}"


# --- the services the jobs talk to --------------------------------------------------------------

KAFKA_BOOTSTRAP = Option("--kafka-bootstrap", "RISKSTREAM_KAFKA_BOOTSTRAP", None,
                         "Kafka bootstrap servers, host:port[,host:port]")
KAFKA_SECURITY_PROTOCOL = Option("--kafka-security-protocol", "RISKSTREAM_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT",
                                 "how clients reach the brokers: PLAINTEXT, SASL_PLAINTEXT, SASL_SSL or SSL")
KAFKA_SASL_MECHANISM = Option("--kafka-sasl-mechanism", "RISKSTREAM_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512",
                              "SASL mechanism: SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN")
KAFKA_SASL_USERNAME = Option("--kafka-sasl-username", "RISKSTREAM_KAFKA_SASL_USERNAME", "",
                             "SASL user (a KafkaUser on Kubernetes), for the SASL protocols")
KAFKA_SASL_PASSWORD = Option("--kafka-sasl-password", "RISKSTREAM_KAFKA_SASL_PASSWORD", "",
                             "SASL password (never printed); on Kubernetes from the KafkaUser's secret", Secret)
KAFKA_SSL_CA_LOCATION = Option("--kafka-ssl-ca-location", "RISKSTREAM_KAFKA_SSL_CA_LOCATION", "",
                               "PEM file of the CA the brokers' certificates chain to, for SSL and SASL_SSL "
                               "(empty: the system's CAs)")
IMPRESSIONS_TOPIC = Option("--impressions-topic", "RISKSTREAM_IMPRESSIONS_TOPIC", "impressions",
                           "topic the impression stream is read from")
DEAD_LETTER_TOPIC = Option("--dead-letter-topic", "RISKSTREAM_DEAD_LETTER_TOPIC", "impressions-dlq",
                           "topic malformed records are written to, with the reason")
POLICIES_TOPIC = Option("--policies-topic", "RISKSTREAM_POLICIES_TOPIC", "policies",
                        "compacted topic of published safety policies (their history)")
FORGET_REQUESTS_TOPIC = Option("--forget-requests-topic", "RISKSTREAM_FORGET_REQUESTS_TOPIC", "forget-requests",
                               "compacted topic of requests to forget a viewer or creator (`riskstream forget`), "
                               "which every job follows")
ITEM_VERDICTS_TOPIC = Option("--item-verdicts-topic", "RISKSTREAM_ITEM_VERDICTS_TOPIC", "item-verdicts",
                             "compacted topic of per-item verdicts (allow, demote, block), keyed by item id")
BREAKER_STATE_TOPIC = Option("--breaker-state-topic", "RISKSTREAM_BREAKER_STATE_TOPIC", "breaker-state",
                             "compacted topic of per-slice circuit breaker transitions, keyed by slice")
MODERATION_LABELS_TOPIC = Option("--moderation-labels-topic", "RISKSTREAM_MODERATION_LABELS_TOPIC", "moderation-labels",
                                 "topic human reviewers' labels are read from (a review tool writes them)")
TOPIC_PARTITIONS = Option("--topic-partitions", "RISKSTREAM_TOPIC_PARTITIONS", 3,
                          "partitions of topics the project creates", int)
IMPRESSIONS_RETENTION = Option("--impressions-retention-hours", "RISKSTREAM_IMPRESSIONS_RETENTION_HOURS", 168,
                               "how long Kafka keeps impressions, by record (event) time; -1 keeps them forever",
                               int)
WIRE_FORMAT = Option("--wire-format", "RISKSTREAM_WIRE_FORMAT", "confluent",
                     "wire format `produce` writes impressions in: confluent (schema id from the registry) or "
                     "single-object (schema fingerprint); the job always reads both")
SCHEMA_REGISTRY_URL = Option("--schema-registry-url", "RISKSTREAM_SCHEMA_REGISTRY_URL", None,
                             "Confluent-compatible schema registry, e.g. http://registry:8081 (Apicurio: "
                             "http://host:8080/apis/ccompat/v7)")
SCHEMA_REGISTRY_USER_INFO = Option("--schema-registry-user-info", "RISKSTREAM_SCHEMA_REGISTRY_USER_INFO", "",
                                   "registry basic auth, user:password (never printed)", Secret)
TRITON_URL = Option("--triton-url", "RISKSTREAM_TRITON_URL", None, "Triton gRPC address, host:port")
TRITON_MODEL = Option("--triton-model", "RISKSTREAM_TRITON_MODEL", "safety_text", "Triton model that scores captions")
TRITON_TIMEOUT = Option("--triton-timeout", "RISKSTREAM_TRITON_TIMEOUT_S", 5.0,
                        "seconds one scoring call may take before its items count as unscored", float)
TRITON_RETRIES = Option("--triton-retries", "RISKSTREAM_TRITON_RETRIES", 2,
                        "retries of a scoring call that failed for a transient reason", int)
CLICKHOUSE_URL = Option("--clickhouse-url", "RISKSTREAM_CLICKHOUSE_URL", None,
                        "ClickHouse: chdb:///abs/path (embedded) or http(s)://host:8123")
CLICKHOUSE_DATABASE = Option("--clickhouse-database", "RISKSTREAM_CLICKHOUSE_DATABASE", "riskstream",
                             "ClickHouse database of the job's tables")
CLICKHOUSE_USER = Option("--clickhouse-user", "RISKSTREAM_CLICKHOUSE_USER", "default", "ClickHouse user")
CLICKHOUSE_PASSWORD = Option("--clickhouse-password", "RISKSTREAM_CLICKHOUSE_PASSWORD", "",
                             "ClickHouse password (never printed)", Secret)
CLICKHOUSE_CA_CERT = Option("--clickhouse-ca-cert", "RISKSTREAM_CLICKHOUSE_CA_CERT", "",
                            "PEM file of the CA that signed the ClickHouse server's certificate, for an https:// "
                            "URL (default: the system's CAs)")
GRAFANA_URL = Option("--url", "RISKSTREAM_GRAFANA_URL", None, "Grafana base URL, e.g. https://grafana.internal")
GRAFANA_TOKEN = Option("--token", "RISKSTREAM_GRAFANA_TOKEN", "",
                       "Grafana service-account token (never printed); or user:password in the URL", Secret)

ITEM_RETENTION = Option("--item-retention-days", "RISKSTREAM_ITEM_RETENTION_DAYS", 28,
                        "days item-level rows (dead-letter index, late events) and the dead-letter topic are kept", int)
LABEL_RETENTION = Option("--label-retention-days", "RISKSTREAM_LABEL_RETENTION_DAYS", 365,
                         "days moderation labels (their topic) and their outcomes (label_outcomes) are kept", int)
AGGREGATE_RETENTION = Option("--aggregate-retention-days", "RISKSTREAM_AGGREGATE_RETENTION_DAYS", 400,
                             "days aggregate rows (safety health, shadow, breakers, causes, bias) are kept", int)
AUDIT_RETENTION = Option("--audit-retention-days", "RISKSTREAM_AUDIT_RETENTION_DAYS", 7 * 365 + 2,
                         "days the audit trail is kept (seven years)", int)
RETENTION_OPTIONS = (ITEM_RETENTION, LABEL_RETENTION, AGGREGATE_RETENTION, AUDIT_RETENTION)

KAFKA_SECURITY_OPTIONS = (KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD,
                          KAFKA_SSL_CA_LOCATION)
KAFKA_OPTIONS = (KAFKA_BOOTSTRAP, *KAFKA_SECURITY_OPTIONS, IMPRESSIONS_TOPIC, DEAD_LETTER_TOPIC, POLICIES_TOPIC, ITEM_VERDICTS_TOPIC,
                 FORGET_REQUESTS_TOPIC,
                 BREAKER_STATE_TOPIC, MODERATION_LABELS_TOPIC, TOPIC_PARTITIONS, IMPRESSIONS_RETENTION, WIRE_FORMAT,
                 *RETENTION_OPTIONS)
CLICKHOUSE_OPTIONS = (CLICKHOUSE_URL, CLICKHOUSE_DATABASE, CLICKHOUSE_USER, CLICKHOUSE_PASSWORD, CLICKHOUSE_CA_CERT)
SERVICE_OPTIONS = KAFKA_OPTIONS + (SCHEMA_REGISTRY_URL, SCHEMA_REGISTRY_USER_INFO, TRITON_URL, TRITON_MODEL,
                                   TRITON_TIMEOUT, TRITON_RETRIES) + CLICKHOUSE_OPTIONS


@dataclass(frozen=True)
class RetentionSettings:
    """How long each class of what riskstream writes is kept, in ClickHouse (TTLs, `riskstream.core.retention`
    names each table's class) and in Kafka (the dead-letter and label topics); counted from when a row was
    written, or a record's timestamp."""

    item_days: int = ITEM_RETENTION.default
    label_days: int = LABEL_RETENTION.default
    aggregate_days: int = AGGREGATE_RETENTION.default
    audit_days: int = AUDIT_RETENTION.default

    def __post_init__(self) -> None:
        for name in ("item_days", "label_days", "aggregate_days", "audit_days"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_days', '')}-retention-days: at least 1, got {getattr(self, name)}")


@dataclass(frozen=True)
class KafkaSecurity:
    """How clients authenticate to the brokers and check them: nothing locally by default; SASL (SCRAM) over
    TLS on Kubernetes, a Strimzi KafkaUser's name and password, and the cluster CA's certificate."""

    protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "SCRAM-SHA-512"
    username: str = ""
    password: Secret = field(default=Secret(""))
    ca_location: str = ""

    def __post_init__(self) -> None:
        if self.protocol not in SECURITY_PROTOCOLS:
            raise ConfigError(f"{KAFKA_SECURITY_PROTOCOL.flag} {self.protocol!r}: expected one of "
                              f"{', '.join(SECURITY_PROTOCOLS)}")
        if self.sasl:
            if self.sasl_mechanism not in SASL_MECHANISMS:
                raise ConfigError(f"{KAFKA_SASL_MECHANISM.flag} {self.sasl_mechanism!r}: expected one of "
                                  f"{', '.join(SASL_MECHANISMS)}")
            for option, value in ((KAFKA_SASL_USERNAME, self.username), (KAFKA_SASL_PASSWORD, self.password)):
                if not value:
                    raise ConfigError(f"{KAFKA_SECURITY_PROTOCOL.flag} {self.protocol} needs {option.flag} "
                                      f"(or {option.env})")
        if self.ca_location and not self.tls:
            raise ConfigError(f"{KAFKA_SSL_CA_LOCATION.flag} is set but {KAFKA_SECURITY_PROTOCOL.flag} "
                              f"{self.protocol} does not use TLS")

    @property
    def sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @property
    def tls(self) -> bool:
        return self.protocol.endswith("SSL")


SECURITY_PROTOCOLS = ("PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL")
SASL_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap_servers: str
    impressions_topic: str = "impressions"
    dead_letter_topic: str = "impressions-dlq"
    policies_topic: str = "policies"
    item_verdicts_topic: str = "item-verdicts"
    breaker_state_topic: str = "breaker-state"
    moderation_labels_topic: str = "moderation-labels"
    forget_requests_topic: str = "forget-requests"
    partitions: int = 3
    # Kafka deletes impressions whose record timestamp (the event time) is older than this.
    impressions_retention_hours: int = 168
    # How `produce` writes impressions; the job reads both formats whatever this says.
    wire_format: str = "confluent"
    retention: RetentionSettings = field(default_factory=RetentionSettings)  # the same object as ClickHouse's
    security: KafkaSecurity = field(default_factory=KafkaSecurity)

    def __post_init__(self) -> None:
        if self.wire_format not in WIRE_FORMATS:
            raise ConfigError(f"wire format {self.wire_format!r}: expected one of {', '.join(WIRE_FORMATS)}")


WIRE_FORMATS = ("confluent", "single-object")


@dataclass(frozen=True)
class RegistrySettings:
    """A Confluent-compatible schema registry (Apicurio's ccompat API, Confluent's, Karapace...)."""

    url: str
    user_info: Secret = field(default=Secret(""))
    # The subject impressions' value schemas are registered under (TopicNameStrategy).
    subject: str = "impressions-value"


@dataclass(frozen=True)
class TritonSettings:
    url: str
    model_name: str = "safety_text"
    timeout_s: float = 5.0
    retries: int = 2


@dataclass(frozen=True)
class ClickHouseSettings:
    url: str
    database: str = "riskstream"
    username: str = "default"
    password: Secret = field(default=Secret(""))
    retention: RetentionSettings = field(default_factory=RetentionSettings)  # the tables' TTLs
    ca_cert: str = ""  # the CA that signed an https server's certificate; "": the system's CAs

    def __post_init__(self) -> None:
        if self.ca_cert and not self.url.startswith("https://"):
            raise ConfigError(f"{CLICKHOUSE_CA_CERT.flag} is set but {CLICKHOUSE_URL.flag} {self.url!r} does not "
                              "use TLS (https://)")

    @property
    def is_embedded(self) -> bool:
        return self.url.startswith("chdb://")


@dataclass(frozen=True)
class ServiceSettings:
    """Everything a job or command needs to reach Kafka, Triton and ClickHouse."""

    kafka: KafkaSettings
    triton: TritonSettings
    clickhouse: ClickHouseSettings
    registry: RegistrySettings | None = None


def add_options(parser: argparse.ArgumentParser, options: tuple[Option, ...]) -> None:
    for option in options:
        option.add_to(parser)


def stack_settings(args: argparse.Namespace) -> StackSettings:
    """Build the local stack's settings from parsed arguments."""
    return StackSettings(
        state_dir=Path(args.state_dir).resolve(),
        kafka_port=args.kafka_port,
        kafka_controller_port=args.kafka_controller_port,
        triton_http_port=args.triton_http_port,
        triton_grpc_port=args.triton_grpc_port,
        triton_metrics_port=args.triton_metrics_port,
        registry_port=args.registry_port,
        registry_management_port=args.registry_management_port,
        registry_java=args.registry_java,
        kafka_heap=args.kafka_heap,
        model_repository=Path(args.model_repository).resolve(),
        guard_port=args.guard_port,
        triton_model_config=args.triton_model_config,
        triton_model_control=args.triton_model_control,
        kafka_auth=args.kafka_auth,
    )


def _address(local: dict[str, str], value: str | None, key: str, option: Option) -> str:
    if value:
        return value
    if key in local:
        return local[key]
    raise ConfigError(f"no address for {key}: pass {option.flag}, set {option.env}, "
                      f"or start the local stack with `riskstream stack up`")


def kafka_settings(args: argparse.Namespace, local: dict[str, str] | None = None) -> KafkaSettings:
    """Kafka's address and the project's topics; an address not given falls back to the local stack's."""
    return KafkaSettings(
        bootstrap_servers=_address(local or {}, args.kafka_bootstrap, "kafka", KAFKA_BOOTSTRAP),
        impressions_topic=args.impressions_topic,
        dead_letter_topic=args.dead_letter_topic,
        policies_topic=args.policies_topic,
        item_verdicts_topic=args.item_verdicts_topic,
        breaker_state_topic=args.breaker_state_topic,
        moderation_labels_topic=args.moderation_labels_topic,
        forget_requests_topic=args.forget_requests_topic,
        partitions=args.topic_partitions,
        impressions_retention_hours=args.impressions_retention_hours,
        wire_format=args.wire_format,
        retention=retention_settings(args),
        security=KafkaSecurity(protocol=args.kafka_security_protocol, sasl_mechanism=args.kafka_sasl_mechanism,
                               username=args.kafka_sasl_username, password=Secret(args.kafka_sasl_password),
                               ca_location=args.kafka_ssl_ca_location),
    )


def retention_settings(args: argparse.Namespace) -> RetentionSettings:
    return RetentionSettings(item_days=args.item_retention_days, label_days=args.label_retention_days,
                             aggregate_days=args.aggregate_retention_days, audit_days=args.audit_retention_days)


def service_settings(args: argparse.Namespace, local: dict[str, str] | None = None) -> ServiceSettings:
    """Build service settings; addresses not given fall back to the running local stack's (`local`)."""
    local = local or {}
    return ServiceSettings(
        kafka=kafka_settings(args, local),
        triton=TritonSettings(
            url=_address(local, args.triton_url, "triton", TRITON_URL),
            model_name=args.triton_model,
            timeout_s=args.triton_timeout,
            retries=args.triton_retries,
        ),
        clickhouse=clickhouse_settings(args, local),
        registry=_registry(args.schema_registry_url or local.get("registry"), args),
    )


def clickhouse_settings(args: argparse.Namespace, local: dict[str, str] | None = None) -> ClickHouseSettings:
    """ClickHouse's settings from CLICKHOUSE_OPTIONS and RETENTION_OPTIONS; no URL given: the local stack's."""
    return ClickHouseSettings(
        url=_address(local or {}, args.clickhouse_url, "clickhouse", CLICKHOUSE_URL),
        database=args.clickhouse_database,
        username=args.clickhouse_user,
        password=Secret(args.clickhouse_password),
        retention=retention_settings(args),
        ca_cert=args.clickhouse_ca_cert,
    )


def _registry(url: str | None, args: argparse.Namespace) -> RegistrySettings | None:
    """No registry is a valid setting: Confluent-framed records then go to the dead letters as unknown_schema_id."""
    if not url:
        return None
    return RegistrySettings(url=url, user_info=Secret(args.schema_registry_user_info),
                            subject=f"{args.impressions_topic}-value")


def describe(settings: object) -> str:
    """Render settings as `section.key = value` lines, secrets masked."""
    lines: list[str] = []

    def walk(prefix: str, obj: object) -> None:
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            name = f"{prefix}{f.name}"
            if dataclasses.is_dataclass(value):
                walk(f"{name}.", value)
            else:
                lines.append(f"{name} = {value!r}")

    walk("", settings)
    return "\n".join(lines)
