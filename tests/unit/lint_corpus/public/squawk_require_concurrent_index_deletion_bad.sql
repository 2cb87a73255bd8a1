-- squawk: require-concurrent-index-deletion (unsafe in the source's documentation; own rewrite as a sqlx migration)
-- https://squawkhq.com/docs/require-concurrent-index-deletion
SET lock_timeout = '2s';
DROP INDEX app.accounts_email_idx;
