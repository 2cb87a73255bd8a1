-- expect: rename-column
SET lock_timeout = '5s';
ALTER TABLE users RENAME COLUMN email TO email_address;
