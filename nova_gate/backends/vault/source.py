"""HashiCorp Vault's KV v2 metadata API (secret values are never read; httpx, timeouts)."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

import httpx

from nova_gate.backends.http_api import ABSENT, HeaderAuth, HttpApiSource
from nova_gate.backends.secret_store import SecretFacts
from nova_gate.backends.vault.config import Vault


class VaultSource(HttpApiSource):
    backend = "vault"

    def __init__(self, cfg: Vault, client: httpx.Client | None = None) -> None:
        token = cfg.token.get_secret_value() if cfg.token else ""
        auth = HeaderAuth("X-Vault-Token", token) if token else None
        super().__init__(cfg.url, timeout_s=cfg.timeout_s, auth=auth, client=client)
        self.mount = cfg.mount

    def secret_updated(self, paths: list[str]) -> dict[str, dt.datetime | None]:
        """KV v2 ``updated_time`` per secret path (metadata only: secret values are never read)."""
        out: dict[str, dt.datetime | None] = {}
        for path in paths:
            answer = self.get_json(f"/v1/{self.mount}/metadata/{quote(path)}")
            if answer is ABSENT:
                out[path] = None
                continue
            stamp = (answer.get("data") or {}).get("updated_time") if isinstance(answer, dict) else None
            out[path] = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None
        return out

    def secrets(self, names: list[str]) -> dict[str, SecretFacts]:
        """The shared secrets-store facts (``nova_gate.rules.secrets``): KV v2 knows existence and time."""
        updated = self.secret_updated(names)
        return {name: SecretFacts(name, exists=t is not None, updated=t) for name, t in updated.items()}
