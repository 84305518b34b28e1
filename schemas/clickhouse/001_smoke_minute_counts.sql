-- Per-minute counts written by the smoke pipeline (jobs/smoke.py).
-- ReplacingMergeTree keyed by window and surface: a replay after a restart overwrites, never adds.
CREATE TABLE IF NOT EXISTS smoke_minute_counts
(
    window_start  DateTime64(3, 'UTC'),
    surface       LowCardinality(String),
    impressions   UInt64,
    scored        UInt64,
    unsafe        UInt64,
    model_name    LowCardinality(String),
    model_version LowCardinality(String),
    job_id        String,
    written_at    DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(written_at)
ORDER BY (window_start, surface);
