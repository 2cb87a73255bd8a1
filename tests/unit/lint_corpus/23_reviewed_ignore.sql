-- expect:
-- expect-ignored: drop-column
SET lock_timeout = '5s';
-- The column has been unused since 4.1 (NOVA-812).
-- nova-gate: ignore drop-column reason: unused since 4.1, reviewed in NOVA-812
ALTER TABLE users DROP COLUMN legacy_flag;
