-- strong_migrations: setting NOT NULL on an existing column (safe in the source's documentation; own rewrite as a sqlx migration)
-- https://github.com/ankane/strong_migrations#setting-not-null-on-an-existing-column
SET lock_timeout = '2s';
ALTER TABLE users ADD CONSTRAINT users_some_column_null CHECK (some_column IS NOT NULL) NOT VALID;
