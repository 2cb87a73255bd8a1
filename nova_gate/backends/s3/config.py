"""S3's config: the endpoint, region and a read-only access key."""

from __future__ import annotations

from pydantic import SecretStr

from nova_gate.backends.model import Model, Seconds


class S3(Model):
    endpoint: str = "https://s3.amazonaws.com"
    region: str = "us-east-1"
    access_key_id: str
    secret_access_key: SecretStr | None = None
    timeout_s: Seconds = 10
