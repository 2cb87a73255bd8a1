-- v0.9.0: posts may carry one media attachment; author timelines are read newest first.
ALTER TABLE posts ADD COLUMN media_id BIGINT REFERENCES media (id) ON DELETE SET NULL;

DROP INDEX IF EXISTS idx_posts_author_id;
CREATE INDEX idx_posts_author_created ON posts (author_id, created_at DESC);
