-- Safety-health aggregates written by jobs/safety_health.py: one row per window and slice.
-- window_seconds tells tumbling (60) from the sliding view (300). ReplacingMergeTree keeps, per window
-- and slice, the row with the highest revision (impressions counted), so replays after a restart
-- overwrite and late updates win. Read with FINAL (or argMax by revision).
CREATE TABLE IF NOT EXISTS safety_health
(
    window_start              DateTime64(3, 'UTC'),
    window_end                DateTime64(3, 'UTC'),
    window_seconds            UInt32,
    surface                   LowCardinality(String),
    region                    LowCardinality(String),
    recommender_model_version LowCardinality(String),
    item_category             LowCardinality(String),
    impressions               UInt64,
    scored                    UInt64,
    unscored                  UInt64,
    unsafe                    UInt64,
    unsafe_by_category        Map(LowCardinality(String), UInt64),
    harm                      Float64,
    harm_by_category          Map(LowCardinality(String), Float64),
    score_p50                 Nullable(Float64),
    score_p95                 Nullable(Float64),
    score_p99                 Nullable(Float64),
    score_sketch              String,
    distinct_items            UInt64,
    distinct_creators         UInt64,
    top_unsafe_items          Array(Tuple(item_id String, unsafe_impressions UInt64, max_score Float64)),
    offset_ranges             Array(Tuple(partition UInt32, first_offset UInt64, last_offset UInt64)),
    job_id                    String,
    model_name                LowCardinality(String),
    model_version             LowCardinality(String),
    policy_version            LowCardinality(String),
    revision                  UInt64,
    written_at                DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(revision)
PARTITION BY toYYYYMM(window_start)
ORDER BY (window_seconds, window_start, surface, region, recommender_model_version, item_category);

-- Records that arrived after their window closed (event time older than watermark - allowed lateness).
-- They are not in any aggregate; this table is the late-data metric. Keyed by Kafka position: replays dedupe.
CREATE TABLE IF NOT EXISTS late_events
(
    source_partition          UInt32,
    source_offset             UInt64,
    event_id                  String,
    event_time                DateTime64(3, 'UTC'),
    window_start              DateTime64(3, 'UTC'),
    watermark                 DateTime64(3, 'UTC'),
    surface                   LowCardinality(String),
    region                    LowCardinality(String),
    recommender_model_version LowCardinality(String),
    item_category             LowCardinality(String),
    job_id                    String,
    written_at                DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY (source_partition, source_offset);

-- An index of the dead-letter topic (which keeps the raw bytes): what was rejected, where from, why.
CREATE TABLE IF NOT EXISTS dead_letters
(
    source_topic              String,
    source_partition          UInt32,
    source_offset             UInt64,
    source_timestamp          DateTime64(3, 'UTC'),
    error_class               LowCardinality(String),
    error_message             String,
    payload_bytes             UInt32,
    job_id                    String,
    written_at                DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY (source_topic, source_partition, source_offset);
