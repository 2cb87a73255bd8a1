-- no-transaction
-- squawk: disallowed-unique-constraint (safe in the source's documentation; own rewrite as a sqlx migration)
-- https://squawkhq.com/docs/disallowed-unique-constraint
CREATE UNIQUE INDEX CONCURRENTLY stores_code_idx ON stores (code);
ALTER TABLE stores ADD CONSTRAINT stores_code_key UNIQUE USING INDEX stores_code_idx;
