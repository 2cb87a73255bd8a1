-- strong_migrations: setting NOT NULL on an existing column (unsafe in the source's documentation; own rewrite as a sqlx migration)
-- https://github.com/ankane/strong_migrations#setting-not-null-on-an-existing-column
SET lock_timeout = '2s';
ALTER TABLE users ALTER COLUMN some_column SET NOT NULL;
