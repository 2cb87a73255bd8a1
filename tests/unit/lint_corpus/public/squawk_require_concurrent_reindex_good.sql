-- no-transaction
-- squawk: require-concurrent-reindex (safe in the source's documentation; own rewrite as a sqlx migration)
-- https://squawkhq.com/docs/require-concurrent-reindex
REINDEX INDEX CONCURRENTLY accounts_email_idx;
