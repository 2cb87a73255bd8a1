-- squawk: ban-drop-column (unsafe in the source's documentation; own rewrite as a sqlx migration)
-- https://squawkhq.com/docs/ban-drop-column
SET lock_timeout = '2s';
ALTER TABLE accounts DROP COLUMN legacy_plan;
