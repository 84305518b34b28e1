-- Every move of a per-slice circuit breaker, with its evidence (the breaker-state topic keeps only the
-- newest per slice). Decided in event time, so a replay of the same input writes the same rows, which
-- the key collapses.
CREATE TABLE IF NOT EXISTS breaker_transitions
(
    window_start              DateTime64(3, 'UTC'),
    window_end                DateTime64(3, 'UTC'),
    surface                   LowCardinality(String),
    region                    LowCardinality(String),
    recommender_model_version LowCardinality(String),
    from_state                LowCardinality(String),
    to_state                  LowCardinality(String),
    scored                    UInt64,
    unsafe                    UInt64,
    rate                      Float64,
    baseline_rate             Float64,
    z                         Float64,
    reason                    String,
    policy_version            LowCardinality(String),
    job_id                    String,
    written_at                DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY (job_id, surface, region, recommender_model_version, window_start, to_state);
