-- expect: constraint-not-valid
SET lock_timeout = '5s';
ALTER TABLE payments ADD CONSTRAINT payments_amount_positive CHECK (amount > 0);
