-- The ranked causes of a slice's unsafe-rate change in a window (`riskstream explain --write`,
-- udfs/attribution.py): per cause its explanatory power, Kitagawa mix and rate effects, traffic shares and
-- rates before and now, and its adjusted p-value; with the slice's own rates and the method. Explaining the
-- same window again (another baseline, newer rows) replaces its causes.
CREATE TABLE IF NOT EXISTS alert_causes
(
    window_start        DateTime64(3, 'UTC'),
    window_end          DateTime64(3, 'UTC'),
    baseline_start      DateTime64(3, 'UTC'),
    job_id              String,
    slice               String,
    rank                UInt16,
    cause               String,
    dimensions          Array(LowCardinality(String)),
    dimension_values    Array(String),
    contribution        Float64,
    explanatory_power   Float64,
    mix_effect          Float64,
    rate_effect         Float64,
    share_baseline      Nullable(Float64),
    share_current       Nullable(Float64),
    rate_baseline       Nullable(Float64),
    rate_current        Nullable(Float64),
    score               Float64,
    p_value             Float64,
    p_adjusted          Float64,
    significant         Bool,
    slice_rate_baseline Float64,
    slice_rate_current  Float64,
    slice_p_value       Float64,
    method              LowCardinality(String),
    explained_at        DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(explained_at)
PARTITION BY toYYYYMM(window_end)
ORDER BY (job_id, slice, window_end, rank);
