-- squawk: require-lock-timeout (safe in the source's documentation; own rewrite as a sqlx migration)
-- https://squawkhq.com/docs/require-lock-timeout
SET lock_timeout = '1s';
ALTER TABLE accounts ADD COLUMN verified boolean;
