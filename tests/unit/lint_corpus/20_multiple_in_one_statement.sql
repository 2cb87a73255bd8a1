-- expect: drop-column, drop-default, set-not-null, missing-lock-timeout
ALTER TABLE accounts
    DROP COLUMN legacy_plan,
    ALTER COLUMN region SET NOT NULL,
    ALTER COLUMN tier DROP DEFAULT;
