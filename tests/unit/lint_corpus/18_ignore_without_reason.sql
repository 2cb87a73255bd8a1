-- expect: bad-ignore, drop-column
SET lock_timeout = '5s';
-- nova-gate: ignore drop-column
ALTER TABLE users DROP COLUMN legacy_flag;
