-- squawk: adding-not-nullable-field (unsafe in the source's documentation; own rewrite as a sqlx migration)
-- https://squawkhq.com/docs/adding-not-nullable-field
SET lock_timeout = '2s';
ALTER TABLE recipes ALTER COLUMN view_count SET NOT NULL;
