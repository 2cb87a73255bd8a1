-- strong_migrations: adding an auto-incrementing column (unsafe in the source's documentation; own rewrite as a sqlx migration)
-- https://github.com/ankane/strong_migrations#adding-an-auto-incrementing-column
SET lock_timeout = '2s';
ALTER TABLE cities_users ADD COLUMN id bigserial PRIMARY KEY;
