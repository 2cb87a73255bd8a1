-- v1.0.0: profile display names (nullable, filled in lazily by user-service).
SET lock_timeout = '5s';
ALTER TABLE users ADD COLUMN display_name TEXT;
ALTER TABLE users ADD CONSTRAINT users_display_name_length
    CHECK (display_name IS NULL OR char_length(display_name) <= 64) NOT VALID;
