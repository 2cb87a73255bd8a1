-- no-transaction
-- strong_migrations: backfilling data (safe in the source's documentation; own rewrite as a sqlx migration)
-- https://github.com/ankane/strong_migrations#backfilling-data
UPDATE users SET some_column = 'default_value' WHERE some_column IS NULL AND id BETWEEN 1 AND 10000;
