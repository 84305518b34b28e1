-- Who bears the harm: per cohort of a row's impressions, scored and unsafe impressions and harm (the sum of
-- the items' highest scores). Viewer cohorts are "age band|locale", creator cohorts the producer's creator
-- cohort, "unknown" where an impression names none (schemas/impression v2). Rows written before this
-- migration have none.
ALTER TABLE safety_health
    ADD COLUMN IF NOT EXISTS scored_by_viewer_cohort Map(LowCardinality(String), UInt64) AFTER harm_by_category,
    ADD COLUMN IF NOT EXISTS unsafe_by_viewer_cohort Map(LowCardinality(String), UInt64) AFTER scored_by_viewer_cohort,
    ADD COLUMN IF NOT EXISTS harm_by_viewer_cohort Map(LowCardinality(String), Float64) AFTER unsafe_by_viewer_cohort,
    ADD COLUMN IF NOT EXISTS scored_by_creator_cohort Map(LowCardinality(String), UInt64) AFTER harm_by_viewer_cohort,
    ADD COLUMN IF NOT EXISTS unsafe_by_creator_cohort Map(LowCardinality(String), UInt64) AFTER scored_by_creator_cohort,
    ADD COLUMN IF NOT EXISTS harm_by_creator_cohort Map(LowCardinality(String), Float64) AFTER unsafe_by_creator_cohort;
