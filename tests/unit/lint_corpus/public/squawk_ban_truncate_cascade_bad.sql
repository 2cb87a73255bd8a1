-- squawk: ban-truncate-cascade (unsafe in the source's documentation; own rewrite as a sqlx migration)
-- https://squawkhq.com/docs/ban-truncate-cascade
SET lock_timeout = '2s';
TRUNCATE orders CASCADE;
