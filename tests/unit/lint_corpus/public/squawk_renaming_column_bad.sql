-- squawk: renaming-column (unsafe in the source's documentation; own rewrite as a sqlx migration)
-- https://squawkhq.com/docs/renaming-column
SET lock_timeout = '2s';
ALTER TABLE accounts RENAME COLUMN name TO display_name;
