-- Materialised home feeds (feed-service fan-out on write).
CREATE TABLE feed_items (
    user_id    BIGINT           NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    post_id    BIGINT           NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    score      DOUBLE PRECISION NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ      NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, post_id)
);

CREATE INDEX idx_feed_items_user_score ON feed_items (user_id, score DESC);
