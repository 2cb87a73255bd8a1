-- squawk: ban-concurrent-index-creation-in-transaction (unsafe in the source's documentation; own rewrite as a sqlx migration)
-- https://squawkhq.com/docs/ban-concurrent-index-creation-in-transaction
BEGIN;
UPDATE settings SET value = 'on' WHERE key = 'search';
CREATE INDEX CONCURRENTLY accounts_email_idx ON accounts (email);
COMMIT;
