-- expect: alter-column-type
SET lock_timeout = '5s';
ALTER TABLE payments ALTER COLUMN amount TYPE numeric(20, 4);
