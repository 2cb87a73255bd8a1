-- squawk: adding-required-field (safe in the source's documentation; own rewrite as a sqlx migration)
-- https://squawkhq.com/docs/adding-required-field
SET lock_timeout = '2s';
ALTER TABLE recipes ADD COLUMN is_public boolean;
