-- squawk: adding-field-with-default (safe in the source's documentation; own rewrite as a sqlx migration)
-- https://squawkhq.com/docs/adding-field-with-default
SET lock_timeout = '2s';
ALTER TABLE recipes ADD COLUMN servings integer DEFAULT 2 NOT NULL;
