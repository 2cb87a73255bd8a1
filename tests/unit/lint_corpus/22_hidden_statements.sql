-- expect:
-- DROP TABLE users;
-- ALTER TABLE users DROP COLUMN email;
/* TRUNCATE audit_log;
   ALTER TABLE orders RENAME TO old_orders; /* nested: DROP INDEX x; */ */
SELECT 'DROP TABLE users; ALTER TABLE users DROP COLUMN email;' AS not_a_statement;
SELECT E'TRUNCATE audit_log;\'; DROP TABLE x;' AS escaped;
SELECT $q$ALTER TABLE users ALTER COLUMN id TYPE text;$q$ AS dollar_quoted;
CREATE FUNCTION nova_cleanup() RETURNS void LANGUAGE sql AS $body$
    TRUNCATE audit_log;
$body$;
COMMENT ON TABLE users IS 'ALTER TABLE users RENAME COLUMN a TO b;';
