-- no-transaction
-- strong_migrations: adding a reference (safe in the source's documentation; own rewrite as a sqlx migration)
-- https://github.com/ankane/strong_migrations#adding-a-reference
ALTER TABLE users ADD COLUMN city_id bigint;
CREATE INDEX CONCURRENTLY index_users_on_city_id ON users (city_id);
