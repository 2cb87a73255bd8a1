-- Uploaded media objects (media-service); the bytes live in object storage.
CREATE TABLE media (
    id         BIGSERIAL PRIMARY KEY,
    owner_id   BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    url        TEXT        NOT NULL,
    mime_type  TEXT        NOT NULL,
    size_bytes BIGINT      NOT NULL CHECK (size_bytes >= 0),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_media_owner_id ON media (owner_id);
