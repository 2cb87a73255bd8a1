-- squawk: ban-drop-table (unsafe in the source's documentation; own rewrite as a sqlx migration)
-- https://squawkhq.com/docs/ban-drop-table
SET lock_timeout = '2s';
DROP TABLE audit_archive;
