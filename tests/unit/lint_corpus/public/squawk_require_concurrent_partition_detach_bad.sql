-- squawk: require-concurrent-partition-detach (unsafe in the source's documentation; own rewrite as a sqlx migration)
-- https://squawkhq.com/docs/require-concurrent-partition-detach
SET lock_timeout = '2s';
ALTER TABLE events DETACH PARTITION events_2024;
