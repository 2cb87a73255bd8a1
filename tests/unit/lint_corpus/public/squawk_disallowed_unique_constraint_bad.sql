-- squawk: disallowed-unique-constraint (unsafe in the source's documentation; own rewrite as a sqlx migration)
-- https://squawkhq.com/docs/disallowed-unique-constraint
SET lock_timeout = '2s';
ALTER TABLE stores ADD CONSTRAINT stores_code_key UNIQUE (code);
