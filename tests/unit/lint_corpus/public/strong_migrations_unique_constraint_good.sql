-- no-transaction
-- strong_migrations: adding a unique constraint (safe in the source's documentation; own rewrite as a sqlx migration)
-- https://github.com/ankane/strong_migrations#adding-a-unique-constraint
CREATE UNIQUE INDEX CONCURRENTLY index_users_on_some_column ON users (some_column);
ALTER TABLE users ADD CONSTRAINT users_some_column_key UNIQUE USING INDEX index_users_on_some_column;
