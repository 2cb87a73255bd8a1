-- strong_migrations: creating a table with the force option (safe in the source's documentation; own rewrite as a sqlx migration)
-- https://github.com/ankane/strong_migrations#creating-a-table-with-the-force-option
SET lock_timeout = '2s';
CREATE TABLE users_archive (id bigserial PRIMARY KEY, email text);
