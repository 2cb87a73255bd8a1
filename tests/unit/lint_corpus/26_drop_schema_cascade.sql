-- expect: drop-schema, drop-cascade
SET lock_timeout = '5s';
DROP SCHEMA reporting CASCADE;
DROP TYPE user_status CASCADE;
