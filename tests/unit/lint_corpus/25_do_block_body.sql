-- expect: drop-column, drop-table, rename-column
-- A DO block runs at migration time: the statements in its PL/pgSQL body are statements of the
-- migration, inside IF blocks and EXECUTE strings too.
SET lock_timeout = '5s';
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.columns
               WHERE table_name = 'users' AND column_name = 'name') THEN
        ALTER TABLE users RENAME COLUMN name TO full_name;
    END IF;
    EXECUTE 'DROP TABLE legacy_tokens';
    ALTER TABLE users DROP COLUMN email;
    RAISE NOTICE 'done';
END
$$;
