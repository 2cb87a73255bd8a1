-- expect: add-column-rewrite, add-column-rewrite, backfill-in-transaction, create-index-not-concurrently, create-index-not-concurrently, rename-enum-value, rename-table
-- Table rewrites under lock, a backfill inside the locking transaction, index builds hidden in
-- constraints, an enum value renamed under the running code, a schema renamed.
SET lock_timeout = '5s';
ALTER TABLE users ADD COLUMN public_id uuid DEFAULT gen_random_uuid();
ALTER TABLE posts ADD COLUMN search_key text GENERATED ALWAYS AS (lower(title)) STORED;
ALTER TABLE users ADD COLUMN nickname text;
UPDATE users SET nickname = handle;
ALTER TABLE users ADD CONSTRAINT users_nickname_key UNIQUE (nickname);
REINDEX INDEX idx_posts_author_id;
ALTER TYPE post_status RENAME VALUE 'done' TO 'published';
ALTER SCHEMA reporting RENAME TO analytics;
-- not findings: a constant default, a constraint on an index built concurrently before,
-- SET NOT NULL after a validated CHECK (col IS NOT NULL) of this migration
ALTER TABLE users ADD COLUMN locale text NOT NULL DEFAULT 'en';
ALTER TABLE users ADD CONSTRAINT users_handle_key UNIQUE USING INDEX users_handle_idx;
ALTER TABLE posts ADD CONSTRAINT posts_view_count_nn CHECK (view_count IS NOT NULL) NOT VALID;
ALTER TABLE posts VALIDATE CONSTRAINT posts_view_count_nn;
ALTER TABLE posts ALTER COLUMN view_count SET NOT NULL;
