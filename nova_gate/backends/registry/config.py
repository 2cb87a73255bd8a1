"""The container registry's config: its API v2 and optional basic auth."""

from __future__ import annotations

from pydantic import SecretStr

from nova_gate.backends.model import Model, Seconds


class Registry(Model):
    url: str
    repository_prefix: str = "nova-"
    username: str | None = None
    password: SecretStr | None = None
    platform: str = "linux/amd64"
    timeout_s: Seconds = 10
