-- Dead letters say more about what was rejected: a truncated value's SHA-256 and whether it was cut
-- (values above the cap are kept in part so a letter always fits one Kafka request), and the writer
-- schema's registry id or fingerprint when the header named one.
ALTER TABLE dead_letters
    ADD COLUMN IF NOT EXISTS payload_sha256 String DEFAULT '' AFTER payload_bytes,
    ADD COLUMN IF NOT EXISTS payload_truncated Bool DEFAULT false AFTER payload_sha256,
    ADD COLUMN IF NOT EXISTS schema_ref String DEFAULT '' AFTER payload_truncated;
