-- expect:
-- An expand-only migration: nothing here breaks the running version.
SET lock_timeout = '5s';
CREATE TABLE invoices (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id),
    total numeric NOT NULL CHECK (total >= 0)
);
CREATE INDEX idx_invoices_account_id ON invoices (account_id);
ALTER TABLE invoices ADD COLUMN paid_at timestamptz NOT NULL;
ALTER TABLE accounts ADD COLUMN invoice_email text;
ALTER TABLE accounts ADD COLUMN credit_cents bigint NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD CONSTRAINT accounts_credit_nonneg CHECK (credit_cents >= 0) NOT VALID;
ALTER TABLE accounts VALIDATE CONSTRAINT accounts_credit_nonneg;
ALTER TABLE accounts ALTER COLUMN invoice_email SET DEFAULT '';
