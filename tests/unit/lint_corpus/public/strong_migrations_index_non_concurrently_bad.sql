-- strong_migrations: adding an index non-concurrently (unsafe in the source's documentation; own rewrite as a sqlx migration)
-- https://github.com/ankane/strong_migrations#adding-an-index-non-concurrently
SET lock_timeout = '2s';
CREATE INDEX index_users_on_some_column ON users (some_column);
