DROP INDEX IF EXISTS idx_posts_author_created;
CREATE INDEX IF NOT EXISTS idx_posts_author_id ON posts (author_id);

ALTER TABLE posts DROP COLUMN IF EXISTS media_id;
