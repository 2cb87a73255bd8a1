-- strong_migrations: adding a unique constraint (unsafe in the source's documentation; own rewrite as a sqlx migration)
-- https://github.com/ankane/strong_migrations#adding-a-unique-constraint
SET lock_timeout = '2s';
ALTER TABLE users ADD CONSTRAINT users_some_column_key UNIQUE (some_column);
