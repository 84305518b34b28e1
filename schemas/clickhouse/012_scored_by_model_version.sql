-- Which safety-model version scored a row's impressions: Triton names the version in every response, and a
-- model reloaded mid-stream (version 2 loaded while the job runs) scores the impressions after it. The map
-- counts scored impressions per version; model_version lists them, oldest first ("1,2" for a window that spans
-- the reload, "" when nothing in it was scored). Rows written before this migration have an empty map and the
-- version the job read at start in model_version.
ALTER TABLE safety_health
    ADD COLUMN IF NOT EXISTS scored_by_model_version Map(LowCardinality(String), UInt64) AFTER model_version;
