-- strong_migrations: adding a json column (unsafe in the source's documentation; own rewrite as a sqlx migration)
-- https://github.com/ankane/strong_migrations#adding-a-json-column
SET lock_timeout = '2s';
ALTER TABLE users ADD COLUMN properties json;
