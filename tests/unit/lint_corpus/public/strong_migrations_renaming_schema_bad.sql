-- strong_migrations: renaming a schema (unsafe in the source's documentation; own rewrite as a sqlx migration)
-- https://github.com/ankane/strong_migrations#renaming-a-schema
SET lock_timeout = '2s';
ALTER SCHEMA users RENAME TO customers;
