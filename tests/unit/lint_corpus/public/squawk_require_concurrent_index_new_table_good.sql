-- squawk: require-concurrent-index-creation (safe in the source's documentation; own rewrite as a sqlx migration)
-- https://squawkhq.com/docs/require-concurrent-index-creation
SET lock_timeout = '2s';
CREATE TABLE invites (id bigint PRIMARY KEY, email text NOT NULL);
CREATE INDEX invites_email_idx ON invites (email);
