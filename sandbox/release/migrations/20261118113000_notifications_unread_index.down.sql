-- no-transaction
DROP INDEX CONCURRENTLY IF EXISTS idx_notifications_user_unread;
