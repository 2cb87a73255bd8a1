-- expect: bad-ignore
SET lock_timeout = '5s';
-- nova-gate: ignore drop-table reason: cleanup agreed in NOVA-812
ALTER TABLE users ADD COLUMN nickname text;
