-- expect: create-index-not-concurrently
SET lock_timeout = '5s';
CREATE INDEX idx_orders_user_id ON orders (user_id);
