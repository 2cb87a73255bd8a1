-- squawk: renaming-table (unsafe in the source's documentation; own rewrite as a sqlx migration)
-- https://squawkhq.com/docs/renaming-table
SET lock_timeout = '2s';
ALTER TABLE user_stars RENAME TO user_favorites;
