-- expect: truncate
SET lock_timeout = '5s';
TRUNCATE TABLE audit_log;
