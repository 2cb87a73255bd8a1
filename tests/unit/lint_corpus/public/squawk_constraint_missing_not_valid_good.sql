-- squawk: constraint-missing-not-valid (safe in the source's documentation; own rewrite as a sqlx migration)
-- https://squawkhq.com/docs/constraint-missing-not-valid
SET lock_timeout = '2s';
ALTER TABLE ledgers ADD CONSTRAINT ledgers_balance_positive CHECK (balance >= 0) NOT VALID;
ALTER TABLE ledgers VALIDATE CONSTRAINT ledgers_balance_positive;
