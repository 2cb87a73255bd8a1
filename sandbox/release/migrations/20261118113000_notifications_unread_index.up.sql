-- no-transaction
-- v1.0.0: the unread badge query (user_id, read_at IS NULL) without blocking writes.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_notifications_user_unread
    ON notifications (user_id, created_at DESC)
    WHERE read_at IS NULL;
