-- squawk: ban-drop-not-null (unsafe in the source's documentation; own rewrite as a sqlx migration)
-- https://squawkhq.com/docs/ban-drop-not-null
SET lock_timeout = '2s';
ALTER TABLE accounts ALTER COLUMN email DROP NOT NULL;
