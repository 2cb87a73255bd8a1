-- squawk: require-concurrent-reindex (unsafe in the source's documentation; own rewrite as a sqlx migration)
-- https://squawkhq.com/docs/require-concurrent-reindex
SET lock_timeout = '2s';
REINDEX INDEX accounts_email_idx;
