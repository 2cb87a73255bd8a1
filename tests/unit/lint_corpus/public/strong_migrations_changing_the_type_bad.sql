-- strong_migrations: changing the type of a column (unsafe in the source's documentation; own rewrite as a sqlx migration)
-- https://github.com/ankane/strong_migrations#changing-the-type-of-a-column
SET lock_timeout = '2s';
ALTER TABLE users ALTER COLUMN some_column TYPE numeric(12, 2);
