-- strong_migrations: renaming an enum value (safe in the source's documentation; own rewrite as a sqlx migration)
-- https://github.com/ankane/strong_migrations#renaming-an-enum-value
SET lock_timeout = '2s';
ALTER TYPE status ADD VALUE 'completed' AFTER 'done';
