-- squawk: adding-foreign-key-constraint (safe in the source's documentation; own rewrite as a sqlx migration)
-- https://squawkhq.com/docs/adding-foreign-key-constraint
SET lock_timeout = '2s';
CREATE TABLE emails (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id bigint,
    address text,
    CONSTRAINT emails_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id)
);
