-- strong_migrations: adding an exclusion constraint (unsafe in the source's documentation; own rewrite as a sqlx migration)
-- https://github.com/ankane/strong_migrations#adding-an-exclusion-constraint
SET lock_timeout = '2s';
ALTER TABLE users ADD CONSTRAINT users_number_excl EXCLUDE USING gist (number WITH =);
