"""Typed configuration, one frozen dataclass per concern, built once from CLI flags with env-var defaults.

Every option is declared once (`Option`): its flag, its env var and its default. `--help` shows
the env var behind each flag, and `describe()` prints a settings object with secrets masked.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import re
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
MODEL_REPOSITORY = Option("--model-repository", "RISKSTREAM_MODEL_REPOSITORY", str(paths.MODEL_REPOSITORY),
                          "Triton model repository the local server loads")

STACK_OPTIONS = (STATE_DIR, KAFKA_PORT, KAFKA_CONTROLLER_PORT, TRITON_HTTP_PORT, TRITON_GRPC_PORT,
                 TRITON_METRICS_PORT, REGISTRY_PORT, REGISTRY_MANAGEMENT_PORT, REGISTRY_JAVA, KAFKA_HEAP,
                 MODEL_REPOSITORY)


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
IMPRESSIONS_TOPIC = Option("--impressions-topic", "RISKSTREAM_IMPRESSIONS_TOPIC", "impressions",
                           "topic the impression stream is read from")
DEAD_LETTER_TOPIC = Option("--dead-letter-topic", "RISKSTREAM_DEAD_LETTER_TOPIC", "impressions-dlq",
                           "topic malformed records are written to, with the reason")
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
GRAFANA_URL = Option("--url", "RISKSTREAM_GRAFANA_URL", None, "Grafana base URL, e.g. https://grafana.internal")
GRAFANA_TOKEN = Option("--token", "RISKSTREAM_GRAFANA_TOKEN", "",
                       "Grafana service-account token (never printed); or user:password in the URL", Secret)

SERVICE_OPTIONS = (KAFKA_BOOTSTRAP, IMPRESSIONS_TOPIC, DEAD_LETTER_TOPIC, TOPIC_PARTITIONS, IMPRESSIONS_RETENTION,
                   WIRE_FORMAT, SCHEMA_REGISTRY_URL, SCHEMA_REGISTRY_USER_INFO, TRITON_URL, TRITON_MODEL, TRITON_TIMEOUT, TRITON_RETRIES, CLICKHOUSE_URL, CLICKHOUSE_DATABASE,
                   CLICKHOUSE_USER, CLICKHOUSE_PASSWORD)


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap_servers: str
    impressions_topic: str = "impressions"
    dead_letter_topic: str = "impressions-dlq"
    partitions: int = 3
    # Kafka deletes impressions whose record timestamp (the event time) is older than this.
    impressions_retention_hours: int = 168
    # How `produce` writes impressions; the job reads both formats whatever this says.
    wire_format: str = "confluent"

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
    )


def service_settings(args: argparse.Namespace, local: dict[str, str] | None = None) -> ServiceSettings:
    """Build service settings; addresses not given fall back to the running local stack's (`local`)."""
    local = local or {}

    def address(value: str | None, key: str, option: Option) -> str:
        if value:
            return value
        if key in local:
            return local[key]
        raise ConfigError(f"no address for {key}: pass {option.flag}, set {option.env}, "
                          f"or start the local stack with `riskstream stack up`")

    return ServiceSettings(
        kafka=KafkaSettings(
            bootstrap_servers=address(args.kafka_bootstrap, "kafka", KAFKA_BOOTSTRAP),
            impressions_topic=args.impressions_topic,
            dead_letter_topic=args.dead_letter_topic,
            partitions=args.topic_partitions,
            impressions_retention_hours=args.impressions_retention_hours,
            wire_format=args.wire_format,
        ),
        triton=TritonSettings(
            url=address(args.triton_url, "triton", TRITON_URL),
            model_name=args.triton_model,
            timeout_s=args.triton_timeout,
            retries=args.triton_retries,
        ),
        clickhouse=ClickHouseSettings(
            url=address(args.clickhouse_url, "clickhouse", CLICKHOUSE_URL),
            database=args.clickhouse_database,
            username=args.clickhouse_user,
            password=Secret(args.clickhouse_password),
        ),
        registry=_registry(args.schema_registry_url or local.get("registry"), args),
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


# --- the safety-health job ----------------------------------------------------------------------

WINDOW_SIZE = Option("--window-size-s", "RISKSTREAM_WINDOW_SIZE_S", 60, "tumbling window size, seconds", int)
SLIDE_VIEW = Option("--slide-view-s", "RISKSTREAM_SLIDE_VIEW_S", 300,
                    "sliding view size, seconds (a multiple of the window size; it advances every window)", int)
ALLOWED_LATENESS = Option("--allowed-lateness-s", "RISKSTREAM_ALLOWED_LATENESS_S", 60,
                          "how long after its end a window still takes late records (a multiple of the window size)", int)
OUT_OF_ORDERNESS = Option("--out-of-orderness-s", "RISKSTREAM_OUT_OF_ORDERNESS_S", 10,
                          "bound on event-time disorder the watermark waits for, seconds", int)
IDLE_TIMEOUT = Option("--idle-timeout-s", "RISKSTREAM_IDLE_TIMEOUT_S", 30,
                      "a source silent this long stops holding the watermark back, seconds", int)
POLICY = Option("--policy", "RISKSTREAM_POLICY", str(paths.REPO_ROOT / "policies" / "default.toml"),
                "safety policy file (TOML: version, per-category thresholds)")
CHECKPOINT_DIR = Option("--checkpoint-dir", "RISKSTREAM_CHECKPOINT_DIR", None,
                        "where checkpoints are kept (default: <state dir>/checkpoints)")
CHECKPOINT_INTERVAL = Option("--checkpoint-interval-s", "RISKSTREAM_CHECKPOINT_INTERVAL_S", 10,
                             "seconds between checkpoints", int)
PARALLELISM = Option("--parallelism", "RISKSTREAM_PARALLELISM", 1, "job parallelism", int)
DIMENSION_PATTERN = Option("--dimension-pattern", "RISKSTREAM_DIMENSION_PATTERN", r"[A-Za-z0-9][A-Za-z0-9_.:/+-]*",
                           "characters a surface, region, model version or item category may hold (a regex that "
                           "must match the whole value); others go to the dead letters as invalid_dimension")
DIMENSION_MAX_LENGTH = Option("--dimension-max-length", "RISKSTREAM_DIMENSION_MAX_LENGTH", 64,
                              "longest dimension value, characters", int)
DEAD_LETTER_MAX_BYTES = Option("--dead-letter-max-bytes", "RISKSTREAM_DEAD_LETTER_MAX_BYTES", 262_144,
                               "payload bytes a dead letter keeps; longer values are truncated, with their "
                               "length and SHA-256 recorded", int)
BUNDLE_TIME = Option("--bundle-time-ms", "RISKSTREAM_BUNDLE_TIME_MS", 100,
                     "longest a Python operator holds records and watermarks before passing them on", int)

HEALTH_JOB_OPTIONS = (WINDOW_SIZE, SLIDE_VIEW, ALLOWED_LATENESS, OUT_OF_ORDERNESS, IDLE_TIMEOUT, POLICY,
                      CHECKPOINT_DIR, CHECKPOINT_INTERVAL, PARALLELISM, BUNDLE_TIME, DIMENSION_PATTERN,
                      DIMENSION_MAX_LENGTH, DEAD_LETTER_MAX_BYTES)

# The Kafka producer's default max.request.size; a dead letter (payload, key and headers capped, plus
# the envelope) must stay under it, so the caps together are checked against it.
DEAD_LETTER_REQUEST_LIMIT = 1_048_576
DEAD_LETTER_KEY_MAX_BYTES = 16_384
DEAD_LETTER_HEADERS_MAX_BYTES = 65_536


@dataclass(frozen=True)
class DecodeSettings:
    """What the decode step accepts, and how much of a rejected record a dead letter keeps."""

    dimension_pattern: str = DIMENSION_PATTERN.default
    dimension_max_length: int = DIMENSION_MAX_LENGTH.default
    dead_letter_max_bytes: int = DEAD_LETTER_MAX_BYTES.default
    # How far an impression's event time may sit from its Kafka timestamp before it is absurd.
    max_past_ms: int = 7 * 24 * 3600 * 1000
    max_future_ms: int = 3600 * 1000

    def __post_init__(self) -> None:
        try:
            re.compile(self.dimension_pattern)
        except re.error as exc:
            raise ConfigError(f"dimension pattern {self.dimension_pattern!r} is not a regex: {exc}") from exc
        if not 0 < self.dimension_max_length <= 1024:
            raise ConfigError(f"dimension max length must be in 1..1024, got {self.dimension_max_length}")
        budget = DEAD_LETTER_REQUEST_LIMIT - DEAD_LETTER_KEY_MAX_BYTES - DEAD_LETTER_HEADERS_MAX_BYTES - 65_536
        if not 0 < self.dead_letter_max_bytes <= budget:
            raise ConfigError(f"dead-letter max bytes must be in 1..{budget} so a dead letter fits one Kafka "
                              f"request, got {self.dead_letter_max_bytes}")


@dataclass(frozen=True)
class HealthJobSettings:
    """Everything the safety-health job needs besides service addresses."""

    window_size_ms: int = 60_000
    slide_view_ms: int = 300_000
    allowed_lateness_ms: int = 60_000
    out_of_orderness_ms: int = 10_000
    idle_timeout_ms: int = 30_000
    policy_path: Path = paths.REPO_ROOT / "policies" / "default.toml"
    checkpoint_dir: Path = paths.DEFAULT_STATE_DIR / "checkpoints"
    checkpoint_interval_ms: int = 10_000
    parallelism: int = 1
    bundle_time_ms: int = 100
    decode: DecodeSettings = field(default_factory=DecodeSettings)
    bounded: bool = False
    start_offsets: dict[int, int] | None = None
    end_offsets: dict[int, int] | None = None
    from_checkpoint: str | None = None
    job_id: str = ""

    def __post_init__(self) -> None:
        size = self.window_size_ms
        if size <= 0 or self.slide_view_ms % size or self.allowed_lateness_ms % size or self.slide_view_ms < size:
            raise ConfigError("the sliding view and the allowed lateness must be multiples of the window size")


def health_job_settings(args: argparse.Namespace, state_dir: Path) -> HealthJobSettings:
    return HealthJobSettings(
        window_size_ms=args.window_size_s * 1000, slide_view_ms=args.slide_view_s * 1000,
        allowed_lateness_ms=args.allowed_lateness_s * 1000, out_of_orderness_ms=args.out_of_orderness_s * 1000,
        idle_timeout_ms=args.idle_timeout_s * 1000, policy_path=Path(args.policy).resolve(),
        checkpoint_dir=Path(args.checkpoint_dir or state_dir / "checkpoints").resolve(),
        checkpoint_interval_ms=args.checkpoint_interval_s * 1000, parallelism=args.parallelism,
        bundle_time_ms=args.bundle_time_ms, bounded=args.bounded,
        decode=DecodeSettings(dimension_pattern=args.dimension_pattern, dimension_max_length=args.dimension_max_length,
                              dead_letter_max_bytes=args.dead_letter_max_bytes), start_offsets=parse_offsets(args.start_offsets),
        end_offsets=parse_offsets(args.end_offsets), from_checkpoint=args.from_checkpoint,
        job_id=args.job_id,
    )


def parse_offsets(text: str | None) -> dict[int, int] | None:
    """`0:120,1:98` -> {0: 120, 1: 98}."""
    if not text:
        return None
    try:
        return {int(p): int(o) for p, o in (part.split(":") for part in text.split(","))}
    except ValueError as exc:
        raise ConfigError(f"offsets {text!r}: expected partition:offset[,partition:offset]") from exc
