-- squawk: require-concurrent-index-creation (unsafe in the source's documentation; own rewrite as a sqlx migration)
-- https://squawkhq.com/docs/require-concurrent-index-creation
SET lock_timeout = '2s';
CREATE INDEX accounts_email_idx ON accounts (email);
