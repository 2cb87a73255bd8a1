-- squawk: ban-drop-database (unsafe in the source's documentation; own rewrite as a sqlx migration)
-- https://squawkhq.com/docs/ban-drop-database
DROP DATABASE reporting;
