-- expect: rename-table, add-column-not-null
-- A scratch table created and dropped in the same migration is not used by the running version;
-- SET SCHEMA moves a table the running version reads; NOT NULL DEFAULT NULL has no default.
SET lock_timeout = '5s';
CREATE TABLE tmp_user_backfill (id bigint PRIMARY KEY, handle text);
INSERT INTO tmp_user_backfill SELECT id, lower(handle) FROM users;
UPDATE users u SET handle = b.handle FROM tmp_user_backfill b WHERE u.id = b.id;
DROP TABLE tmp_user_backfill;
ALTER TABLE audit_log SET SCHEMA archive;
ALTER TABLE users ADD COLUMN verified boolean NOT NULL DEFAULT NULL;
