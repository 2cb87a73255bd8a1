-- strong_migrations: renaming a column (unsafe in the source's documentation; own rewrite as a sqlx migration)
-- https://github.com/ankane/strong_migrations#renaming-a-column
SET lock_timeout = '2s';
ALTER TABLE users RENAME COLUMN some_column TO new_name;
