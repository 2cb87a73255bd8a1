"""Vault's config: its API, a read-only token, the KV v2 mount."""

from __future__ import annotations

from pydantic import SecretStr

from nova_gate.backends.model import Model, Seconds


class Vault(Model):
    url: str
    token: SecretStr | None = None
    mount: str = "secret"
    timeout_s: Seconds = 10
