-- strong_migrations: renaming a table (unsafe in the source's documentation; own rewrite as a sqlx migration)
-- https://github.com/ankane/strong_migrations#renaming-a-table
SET lock_timeout = '2s';
ALTER TABLE users RENAME TO customers;
