-- strong_migrations: creating a table with the force option (unsafe in the source's documentation; own rewrite as a sqlx migration)
-- https://github.com/ankane/strong_migrations#creating-a-table-with-the-force-option
SET lock_timeout = '2s';
DROP TABLE IF EXISTS users;
CREATE TABLE users (id bigserial PRIMARY KEY, email text);
