-- strong_migrations: backfilling data (unsafe in the source's documentation; own rewrite as a sqlx migration)
-- https://github.com/ankane/strong_migrations#backfilling-data
SET lock_timeout = '2s';
ALTER TABLE users ADD COLUMN some_column text;
UPDATE users SET some_column = 'default_value';
