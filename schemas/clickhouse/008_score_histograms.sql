-- Safety-score quantiles from DDSketch buckets with exact counts (udfs/score_histogram.py): each row keeps
-- its histogram (bucket -> impressions), which sumMap merges over any selection of rows, so a panel's
-- quantiles are those of the selected impressions (within 0.5%), not a max or mean of per-row quantiles.
-- The KLL sketch it replaces was used by no query. first_event_time: the earliest event the row counts
-- (annotations mark when a version was first seen, not the start of its first window); rows written
-- before this migration take their window's start.
ALTER TABLE safety_health
    ADD COLUMN IF NOT EXISTS first_event_time DateTime64(3, 'UTC') DEFAULT window_start AFTER window_seconds,
    ADD COLUMN IF NOT EXISTS score_histogram Map(Int16, UInt64) AFTER score_p99,
    DROP COLUMN IF EXISTS score_sketch;
