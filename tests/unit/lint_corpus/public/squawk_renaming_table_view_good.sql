-- squawk: renaming-table (safe in the source's documentation; own rewrite as a sqlx migration)
-- https://squawkhq.com/docs/renaming-table
SET lock_timeout = '2s';
CREATE VIEW user_favorites AS SELECT * FROM user_stars;
