-- no-transaction
-- squawk: require-concurrent-index-creation (safe in the source's documentation; own rewrite as a sqlx migration)
-- https://squawkhq.com/docs/require-concurrent-index-creation
CREATE INDEX CONCURRENTLY accounts_email_idx ON accounts (email);
