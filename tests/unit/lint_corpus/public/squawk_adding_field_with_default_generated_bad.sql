-- squawk: adding-field-with-default (unsafe in the source's documentation; own rewrite as a sqlx migration)
-- https://squawkhq.com/docs/adding-field-with-default
SET lock_timeout = '2s';
ALTER TABLE recipes ADD COLUMN total_minutes integer GENERATED ALWAYS AS (prep_minutes + cook_minutes) STORED;
