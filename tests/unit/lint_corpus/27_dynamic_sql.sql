-- expect: dynamic-sql
-- EXECUTE of a string built from a query result cannot be known before it runs.
SET lock_timeout = '5s';
DO $$
DECLARE t text;
BEGIN
    FOR t IN SELECT tablename FROM pg_tables WHERE tablename LIKE 'tmp_%' LOOP
        EXECUTE 'ANALYZE ' || quote_ident(t);
    END LOOP;
END
$$;
