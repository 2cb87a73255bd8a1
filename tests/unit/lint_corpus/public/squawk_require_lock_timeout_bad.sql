-- squawk: require-lock-timeout (unsafe in the source's documentation; own rewrite as a sqlx migration)
-- https://squawkhq.com/docs/require-lock-timeout
ALTER TABLE accounts ADD COLUMN verified boolean;
