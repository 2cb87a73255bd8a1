-- squawk: adding-not-nullable-field (safe in the source's documentation; own rewrite as a sqlx migration)
-- https://squawkhq.com/docs/adding-not-nullable-field
SET lock_timeout = '2s';
ALTER TABLE recipes ADD CONSTRAINT recipes_view_count_nn CHECK (view_count IS NOT NULL) NOT VALID;
ALTER TABLE recipes VALIDATE CONSTRAINT recipes_view_count_nn;
ALTER TABLE recipes ALTER COLUMN view_count SET NOT NULL;
