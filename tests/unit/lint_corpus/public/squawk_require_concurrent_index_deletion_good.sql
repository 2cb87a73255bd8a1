-- no-transaction
-- squawk: require-concurrent-index-deletion (safe in the source's documentation; own rewrite as a sqlx migration)
-- https://squawkhq.com/docs/require-concurrent-index-deletion
DROP INDEX CONCURRENTLY app.accounts_email_idx;
