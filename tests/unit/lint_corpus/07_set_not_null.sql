-- expect: set-not-null
SET lock_timeout = '5s';
ALTER TABLE users ALTER COLUMN phone SET NOT NULL;
