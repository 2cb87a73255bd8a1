-- expect: missing-lock-timeout
ALTER TABLE users ADD COLUMN nickname text;
ALTER TABLE users ADD COLUMN avatar_url text;
