-- squawk: ban-alter-domain-with-add-constraint (unsafe in the source's documentation; own rewrite as a sqlx migration)
-- https://squawkhq.com/docs/ban-alter-domain-with-add-constraint
SET lock_timeout = '2s';
ALTER DOMAIN positive_amount ADD CONSTRAINT positive_amount_check CHECK (VALUE > 0);
