-- squawk: changing-column-type (unsafe in the source's documentation; own rewrite as a sqlx migration)
-- https://squawkhq.com/docs/changing-column-type
SET lock_timeout = '2s';
ALTER TABLE user_emails ALTER COLUMN user_id TYPE bigint;
