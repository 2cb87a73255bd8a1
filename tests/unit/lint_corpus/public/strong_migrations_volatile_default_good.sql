-- strong_migrations: adding a column with a volatile default value (safe in the source's documentation; own rewrite as a sqlx migration)
-- https://github.com/ankane/strong_migrations#adding-a-column-with-a-volatile-default-value
SET lock_timeout = '2s';
ALTER TABLE users ADD COLUMN some_column uuid;
ALTER TABLE users ALTER COLUMN some_column SET DEFAULT gen_random_uuid();
