-- squawk: adding-serial-primary-key-field (unsafe in the source's documentation; own rewrite as a sqlx migration)
-- https://squawkhq.com/docs/adding-serial-primary-key-field
SET lock_timeout = '2s';
ALTER TABLE tags ADD COLUMN id serial PRIMARY KEY;
