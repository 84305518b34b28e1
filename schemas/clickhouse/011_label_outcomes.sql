-- Human moderation labels joined to the model's judgement of the same item (jobs/label_join.py): one row per
-- label and reviewed category, with the reviewer's answer beside the model's score and the policy's flag
-- (both NULL when the job had not scored the item). A replay writes the same rows (keyed by label).
CREATE TABLE IF NOT EXISTS label_outcomes
(
    labeled_at       DateTime64(3, 'UTC'),
    label_id         String,
    item_id          String,
    category         LowCardinality(String),
    human_violating  Bool,
    model_score      Nullable(Float64),
    model_flagged    Nullable(Bool),
    creator_cohort   LowCardinality(String),
    reviewer_queue   LowCardinality(String),
    model_version    LowCardinality(String),
    policy_version   LowCardinality(String),
    item_event_time  Nullable(DateTime64(3, 'UTC')),
    label_partition  UInt32,
    label_offset     UInt64,
    job_id           String,
    written_at       DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(written_at)
PARTITION BY toYYYYMM(labeled_at)
ORDER BY (job_id, label_id, category);

-- Disparities of the model per creator cohort (`riskstream bias --write`, udfs/bias.py): per evaluated range,
-- category, cohort and rate, the cohort against the rest with its Wilson interval, the one-sided
-- two-proportion z-test and the Benjamini-Hochberg adjusted p-value. Each run is one evaluated_at; readers take
-- the newest run per range end.
CREATE TABLE IF NOT EXISTS bias_findings
(
    evaluated_at    DateTime64(3, 'UTC'),
    range_start     DateTime64(3, 'UTC'),
    range_end       DateTime64(3, 'UTC'),
    job_id          String,
    reviewer_queue  String,
    category        LowCardinality(String),
    cohort          String,
    metric          LowCardinality(String),
    successes       UInt64,
    trials          UInt64,
    rate            Nullable(Float64),
    ci_low          Nullable(Float64),
    ci_high         Nullable(Float64),
    rest_successes  UInt64,
    rest_trials     UInt64,
    rest_rate       Nullable(Float64),
    z               Nullable(Float64),
    p_value         Nullable(Float64),
    p_adjusted      Nullable(Float64),
    significant     Bool,
    alpha           Float64
)
ENGINE = ReplacingMergeTree(evaluated_at)
PARTITION BY toYYYYMM(range_end)
ORDER BY (job_id, range_end, evaluated_at, category, cohort, metric);
