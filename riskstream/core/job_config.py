"""The safety-health job's settings: windows, decoding limits, checkpoints, offsets; built from CLI flags.

Service addresses live in `config` (shared by every command); this module holds what only a job run needs.
"""
from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field
from pathlib import Path

from riskstream.core import paths
from riskstream.core.config import Option, Secret
from riskstream.core.errors import ConfigError


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
POLICY = Option("--policy", "RISKSTREAM_POLICY", str(paths.DEFAULT_POLICY),
                "safety policy file (TOML: version, per-category thresholds)")
CHECKPOINT_DIR = Option("--checkpoint-dir", "RISKSTREAM_CHECKPOINT_DIR", None,
                        "where checkpoints are kept: a folder or a URI such as s3://bucket/checkpoints (default: "
                        "<state dir>/checkpoints locally; on a Flink cluster, the cluster's own setting)")
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
RESTART_ATTEMPTS = Option("--restart-attempts", "RISKSTREAM_RESTART_ATTEMPTS", 3,
                          "times Flink restarts the job after a failure (2 s apart) before the job fails", int)
REST_PORT = Option("--rest-port", "RISKSTREAM_JOB_REST_PORT", 0,
                   "port of the job's Flink REST API on 127.0.0.1, which `riskstream job stop|drain` call "
                   "(0 picks a free one)", int)
BUNDLE_TIME = Option("--bundle-time-ms", "RISKSTREAM_BUNDLE_TIME_MS", 100,
                     "longest a Python operator holds records and watermarks before passing them on", int)
BUNDLE_SIZE = Option("--bundle-size", "RISKSTREAM_BUNDLE_SIZE", 10_000,
                     "most records a Python operator takes per bundle; the scoring step's Arrow batches (one "
                     "Triton call each) are at most this and 4,096", int)
SCORE_CACHE_ITEMS = Option("--score-cache-items", "RISKSTREAM_SCORE_CACHE_ITEMS", 100_000,
                           "items whose scores the scoring step keeps, least recently used dropped first "
                           "(0: no cache, every impression is sent to the model)", int)
SCORE_CACHE_TTL = Option("--score-cache-ttl-s", "RISKSTREAM_SCORE_CACHE_TTL_S", 3600,
                         "oldest a cached score may be, seconds", int)

LINEAGE_FILE = Option("--lineage-file", "RISKSTREAM_LINEAGE_FILE", None,
                      "file the job appends its OpenLineage run events to, one JSON event per line (default: "
                      "<state dir>/lineage/events.jsonl locally, none on a Flink cluster; '' for none)")
LINEAGE_URL = Option("--lineage-url", "RISKSTREAM_LINEAGE_URL", "",
                     "OpenLineage HTTP endpoint's base URL (Marquez: http://marquez:5000; events are POSTed to "
                     "<url>/<--lineage-endpoint>); empty: none")
LINEAGE_ENDPOINT = Option("--lineage-endpoint", "RISKSTREAM_LINEAGE_ENDPOINT", "api/v1/lineage",
                          "path of the OpenLineage HTTP endpoint under --lineage-url")
LINEAGE_API_KEY = Option("--lineage-api-key", "RISKSTREAM_LINEAGE_API_KEY", "",
                         "bearer token for the OpenLineage endpoint (never printed)", Secret)
LINEAGE_NAMESPACE = Option("--lineage-namespace", "RISKSTREAM_LINEAGE_NAMESPACE", "riskstream",
                           "OpenLineage namespace of the job (its name is the job id)")
LINEAGE_INTERVAL = Option("--lineage-interval-s", "RISKSTREAM_LINEAGE_INTERVAL_S", 60,
                          "seconds between the RUNNING events of a running job, with the offsets read so far "
                          "(0: only START and COMPLETE or FAIL)", int)

VERDICT_MEMO_ITEMS = Option("--verdict-memo-items", "RISKSTREAM_VERDICT_MEMO_ITEMS", 100_000,
                            "items whose last written verdict the job remembers, so it writes a verdict only when "
                            "it changes (0: one per impression)", int)

LABEL_WAIT = Option("--label-wait-s", "RISKSTREAM_LABEL_WAIT_S", 60,
                    "event time a moderation label waits for its item's verdict before it is joined", int)
LABEL_ITEM_MEMORY = Option("--label-item-memory-hours", "RISKSTREAM_LABEL_ITEM_MEMORY_HOURS", 7 * 24,
                           "how long the job remembers an item's verdict for labels to join (state TTL, "
                           "processing time); a later label is kept without a score", int)

HEALTH_JOB_OPTIONS = (WINDOW_SIZE, SLIDE_VIEW, ALLOWED_LATENESS, OUT_OF_ORDERNESS, IDLE_TIMEOUT, POLICY,
                      CHECKPOINT_DIR, CHECKPOINT_INTERVAL, PARALLELISM, BUNDLE_TIME, BUNDLE_SIZE, DIMENSION_PATTERN,
                      DIMENSION_MAX_LENGTH, DEAD_LETTER_MAX_BYTES, REST_PORT, RESTART_ATTEMPTS, SCORE_CACHE_ITEMS,
                      SCORE_CACHE_TTL,
                      VERDICT_MEMO_ITEMS, LABEL_WAIT, LABEL_ITEM_MEMORY, LINEAGE_FILE, LINEAGE_URL, LINEAGE_ENDPOINT,
                      LINEAGE_API_KEY, LINEAGE_NAMESPACE, LINEAGE_INTERVAL)

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
class ScoreCacheSettings:
    """The scoring step's item-score cache (`udfs.score_cache`); max_items 0 turns it off."""

    max_items: int = SCORE_CACHE_ITEMS.default
    ttl_s: int = SCORE_CACHE_TTL.default

    def __post_init__(self) -> None:
        if self.max_items < 0 or self.ttl_s <= 0:
            raise ConfigError(f"score cache: items must be >= 0 and TTL > 0 s, got {self.max_items} and {self.ttl_s}")

    @property
    def enabled(self) -> bool:
        return self.max_items > 0


@dataclass(frozen=True)
class LineageSettings:
    """Where a job run's OpenLineage events go (`riskstream.io.openlineage`): a file, an HTTP endpoint, both or
    neither (the default of a job built in code: set `file` or `url` to emit)."""

    file: Path | None = None
    url: str = ""
    endpoint: str = LINEAGE_ENDPOINT.default
    api_key: Secret = field(default=Secret(""))
    namespace: str = LINEAGE_NAMESPACE.default
    interval_s: int = LINEAGE_INTERVAL.default
    timeout_s: float = 5.0

    def __post_init__(self) -> None:
        if self.interval_s < 0:
            raise ConfigError(f"{LINEAGE_INTERVAL.flag}: at least 0, got {self.interval_s}")
        if self.url and not self.url.startswith(("http://", "https://")):
            raise ConfigError(f"{LINEAGE_URL.flag}: an http(s) URL, got {self.url!r}")
        if not self.namespace:
            raise ConfigError(f"{LINEAGE_NAMESPACE.flag}: must not be empty")

    @property
    def enabled(self) -> bool:
        return bool(self.file or self.url)


@dataclass(frozen=True)
class HealthJobSettings:
    """Everything the safety-health job needs besides service addresses."""

    window_size_ms: int = 60_000
    slide_view_ms: int = 300_000
    allowed_lateness_ms: int = 60_000
    out_of_orderness_ms: int = 10_000
    idle_timeout_ms: int = 30_000
    policy_path: Path = paths.DEFAULT_POLICY
    # A local folder, a URI Flink's file systems take (s3://...), or None: the Flink cluster's own setting.
    checkpoint_dir: Path | str | None = paths.DEFAULT_STATE_DIR / "checkpoints"
    checkpoint_interval_ms: int = 10_000
    parallelism: int = 1
    bundle_time_ms: int = 100
    bundle_size: int = BUNDLE_SIZE.default
    decode: DecodeSettings = field(default_factory=DecodeSettings)
    score_cache: ScoreCacheSettings = field(default_factory=ScoreCacheSettings)
    verdict_memo_items: int = VERDICT_MEMO_ITEMS.default
    # Join moderation labels to verdicts (the bias statistics' input). Off by default: every new verdict then
    # crosses into a keyed Python step, which bench.compare --with-labels measures (README).
    label_join: bool = False
    label_wait_ms: int = LABEL_WAIT.default * 1000
    label_item_memory_hours: int = LABEL_ITEM_MEMORY.default
    bounded: bool = False
    start_offsets: dict[int, int] | None = None
    label_start_offsets: dict[int, int] | None = None  # of the moderation-labels topic
    # Without label start offsets, labels are read from this time on (set when the job starts: see
    # jobs.safety_health.prepare); None: from the earliest.
    label_start_ms: int | None = None
    end_offsets: dict[int, int] | None = None
    from_checkpoint: str | None = None
    job_id: str = ""
    # Where the run is recorded (for `riskstream job ...`) and its Flink log kept; None: neither.
    state_dir: Path | None = None
    rest_port: int = 0
    restart_attempts: int = RESTART_ATTEMPTS.default
    lineage: LineageSettings = field(default_factory=LineageSettings)

    def __post_init__(self) -> None:
        size = self.window_size_ms
        if size <= 0 or self.slide_view_ms % size or self.allowed_lateness_ms % size or self.slide_view_ms < size:
            raise ConfigError("the sliding view and the allowed lateness must be multiples of the window size")
        if self.restart_attempts < 0:
            raise ConfigError(f"{RESTART_ATTEMPTS.flag}: at least 0, got {self.restart_attempts}")
        if self.label_wait_ms < 0 or self.label_item_memory_hours <= 0:
            raise ConfigError(f"labels: the wait must be >= 0 s and the item memory > 0 hours, got "
                              f"{self.label_wait_ms // 1000} s and {self.label_item_memory_hours} h")


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Where a run starts and stops in the input, what it restores, and the lineage id it writes."""
    parser.add_argument("--bounded", action="store_true", help="stop at the offsets present when the job starts")
    parser.add_argument("--start-offsets", help="partition:offset[,...] to start from (default: earliest)")
    parser.add_argument("--label-join", action="store_true",
                        help="read moderation labels and join them to the items' verdicts (label_outcomes rows, "
                             "the bias statistics' and `policy evaluate`'s input); it costs throughput, see the README")
    parser.add_argument("--label-start-offsets",
                        help="partition:offset[,...] of the moderation-labels topic to start from (default: the "
                             "labels made from the time of the first impression the job reads, less the allowed "
                             "lateness)")
    parser.add_argument("--end-offsets", help="partition:offset[,...] to stop at (a bounded run)")
    parser.add_argument("--from-checkpoint",
                        help="restore from this checkpoint or savepoint folder, or 'latest' in --checkpoint-dir")
    parser.add_argument("--job-id", default="", help="lineage id written on every row (default: generated)")


def checkpoint_location(value: str) -> Path | str:
    """--checkpoint-dir as given: a URI (scheme://...) as is, a folder made absolute."""
    return value if "://" in value else Path(value).resolve()


def health_job_settings(args: argparse.Namespace, state_dir: Path, on_cluster: bool = False) -> HealthJobSettings:
    """The job's settings from its arguments. On a Flink cluster (`on_cluster`) checkpoints go where the
    cluster's configuration says unless --checkpoint-dir is given: a FlinkDeployment names its own."""
    default_checkpoints = None if on_cluster else (Path(state_dir) / "checkpoints").resolve()
    return HealthJobSettings(
        window_size_ms=args.window_size_s * 1000, slide_view_ms=args.slide_view_s * 1000,
        allowed_lateness_ms=args.allowed_lateness_s * 1000, out_of_orderness_ms=args.out_of_orderness_s * 1000,
        idle_timeout_ms=args.idle_timeout_s * 1000, policy_path=Path(args.policy).resolve(),
        checkpoint_dir=checkpoint_location(args.checkpoint_dir) if args.checkpoint_dir else default_checkpoints,
        checkpoint_interval_ms=args.checkpoint_interval_s * 1000, parallelism=args.parallelism,
        bundle_time_ms=args.bundle_time_ms, bundle_size=args.bundle_size, bounded=args.bounded,
        decode=DecodeSettings(dimension_pattern=args.dimension_pattern, dimension_max_length=args.dimension_max_length,
                              dead_letter_max_bytes=args.dead_letter_max_bytes),
        score_cache=ScoreCacheSettings(max_items=args.score_cache_items, ttl_s=args.score_cache_ttl_s),
        verdict_memo_items=args.verdict_memo_items,
        label_join=args.label_join, label_wait_ms=args.label_wait_s * 1000,
        label_item_memory_hours=args.label_item_memory_hours,
        label_start_offsets=parse_offsets(args.label_start_offsets),
        start_offsets=parse_offsets(args.start_offsets),
        end_offsets=parse_offsets(args.end_offsets), from_checkpoint=args.from_checkpoint,
        job_id=args.job_id, state_dir=Path(state_dir).resolve(), rest_port=args.rest_port,
        restart_attempts=args.restart_attempts,
        lineage=lineage_settings(args, state_dir, on_cluster),
    )


def lineage_settings(args: argparse.Namespace, state_dir: Path, on_cluster: bool = False) -> LineageSettings:
    """Locally the events go to a file in the state folder unless --lineage-file says otherwise; on a cluster,
    only where configured."""
    if args.lineage_file is None:
        file = None if on_cluster else (Path(state_dir) / "lineage" / "events.jsonl").resolve()
    else:
        file = Path(args.lineage_file).resolve() if args.lineage_file else None
    return LineageSettings(file=file, url=args.lineage_url, endpoint=args.lineage_endpoint,
                           api_key=Secret(args.lineage_api_key), namespace=args.lineage_namespace,
                           interval_s=args.lineage_interval_s)


def format_offsets(offsets: dict[int, int]) -> str:
    """{0: 120, 1: 98} -> `0:120,1:98`, as --start-offsets and --end-offsets take them."""
    return ",".join(f"{p}:{o}" for p, o in sorted(offsets.items()))


def parse_offsets(text: str | None) -> dict[int, int] | None:
    """`0:120,1:98` -> {0: 120, 1: 98}."""
    if not text:
        return None
    try:
        return {int(p): int(o) for p, o in (part.split(":") for part in text.split(","))}
    except ValueError as exc:
        raise ConfigError(f"offsets {text!r}: expected partition:offset[,partition:offset]") from exc
