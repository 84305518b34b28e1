-- Shadow evaluations written by jobs/safety_health.py: per 1-minute window and slice, what a shadow
-- policy would have judged on the same scored impressions, beside the policies in force. to_unsafe
-- counts impressions the shadow would judge unsafe that the active policy judged safe, to_safe the
-- reverse; flipped_items holds the items with the most flipped impressions. A shadow never acts: these
-- rows are its only output. ReplacingMergeTree(revision) as for safety_health; read with FINAL.
CREATE TABLE IF NOT EXISTS shadow_health
(
    window_start              DateTime64(3, 'UTC'),
    window_end                DateTime64(3, 'UTC'),
    window_seconds            UInt32,
    surface                   LowCardinality(String),
    region                    LowCardinality(String),
    recommender_model_version LowCardinality(String),
    item_category             LowCardinality(String),
    shadow_policy_version     LowCardinality(String),
    active_policy_version     LowCardinality(String),
    scored                    UInt64,
    unsafe_active             UInt64,
    unsafe_shadow             UInt64,
    to_unsafe                 UInt64,
    to_safe                   UInt64,
    flipped_items             Array(Tuple(item_id String, impressions UInt64)),
    job_id                    String,
    model_version             LowCardinality(String),
    revision                  UInt64,
    written_at                DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(revision)
PARTITION BY toYYYYMM(window_start)
ORDER BY (shadow_policy_version, window_seconds, window_start, surface, region, recommender_model_version,
          item_category, job_id);
