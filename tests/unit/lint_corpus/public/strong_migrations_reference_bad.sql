-- strong_migrations: adding a reference (unsafe in the source's documentation; own rewrite as a sqlx migration)
-- https://github.com/ankane/strong_migrations#adding-a-reference
SET lock_timeout = '2s';
ALTER TABLE users ADD COLUMN city_id bigint;
CREATE INDEX index_users_on_city_id ON users (city_id);
