-- expect: add-column-not-null
SET lock_timeout = '5s';
ALTER TABLE users ADD COLUMN tenant_id uuid NOT NULL;
