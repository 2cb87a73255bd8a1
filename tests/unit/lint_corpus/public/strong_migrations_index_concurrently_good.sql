-- no-transaction
-- strong_migrations: adding an index non-concurrently (safe in the source's documentation; own rewrite as a sqlx migration)
-- https://github.com/ankane/strong_migrations#adding-an-index-non-concurrently
CREATE INDEX CONCURRENTLY index_users_on_some_column ON users (some_column);
