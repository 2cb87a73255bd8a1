-- strong_migrations: removing a column (unsafe in the source's documentation; own rewrite as a sqlx migration)
-- https://github.com/ankane/strong_migrations#removing-a-column
SET lock_timeout = '2s';
ALTER TABLE users DROP COLUMN some_column;
