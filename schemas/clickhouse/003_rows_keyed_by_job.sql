-- Key every job's rows by its job id too. Without it, two jobs that aggregated the same window and
-- slice (a replay, a second run over overlapping event time) collapsed into one row under FINAL, and a
-- query filtering on one job found the other's row instead: its windows looked short.
-- The sorting key of a MergeTree cannot take an existing column, so each table is copied and swapped.
CREATE TABLE safety_health_v3 AS safety_health
ENGINE = ReplacingMergeTree(revision)
PARTITION BY toYYYYMM(window_start)
ORDER BY (window_seconds, window_start, surface, region, recommender_model_version, item_category, job_id);
INSERT INTO safety_health_v3 SELECT * FROM safety_health;
EXCHANGE TABLES safety_health AND safety_health_v3;
DROP TABLE safety_health_v3;

CREATE TABLE late_events_v3 AS late_events
ENGINE = ReplacingMergeTree
ORDER BY (job_id, source_partition, source_offset);
INSERT INTO late_events_v3 SELECT * FROM late_events;
EXCHANGE TABLES late_events AND late_events_v3;
DROP TABLE late_events_v3;

CREATE TABLE dead_letters_v3 AS dead_letters
ENGINE = ReplacingMergeTree
ORDER BY (job_id, source_topic, source_partition, source_offset);
INSERT INTO dead_letters_v3 SELECT * FROM dead_letters;
EXCHANGE TABLES dead_letters AND dead_letters_v3;
DROP TABLE dead_letters_v3;
