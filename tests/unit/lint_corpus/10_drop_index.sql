-- expect: drop-index
SET lock_timeout = '5s';
DROP INDEX idx_orders_created_at;
