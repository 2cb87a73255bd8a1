-- squawk: adding-foreign-key-constraint (unsafe in the source's documentation; own rewrite as a sqlx migration)
-- https://squawkhq.com/docs/adding-foreign-key-constraint
SET lock_timeout = '2s';
ALTER TABLE emails ADD CONSTRAINT emails_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id);
