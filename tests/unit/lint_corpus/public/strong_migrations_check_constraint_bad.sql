-- strong_migrations: adding a check constraint (unsafe in the source's documentation; own rewrite as a sqlx migration)
-- https://github.com/ankane/strong_migrations#adding-a-check-constraint
SET lock_timeout = '2s';
ALTER TABLE users ADD CONSTRAINT price_check CHECK (price > 0);
