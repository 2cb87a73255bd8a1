"""HashiCorp Vault's KV v2 metadata API (secret values are never read; httpx, timeouts)."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from nova_gate.backends.http_api import HttpApiSource
from nova_gate.backends.vault.config import Vault


class VaultSource(HttpApiSource):
    backend = "vault"

    def __init__(self, cfg: Vault) -> None:
        token = cfg.token.get_secret_value() if cfg.token else ""
        super().__init__(cfg.url, {"X-Vault-Token": token} if token else {}, cfg.timeout_s)
        self.mount = cfg.mount

    def secret_updated(self, paths: list[str]) -> dict[str, dt.datetime | None]:
        """KV v2 ``updated_time`` per secret path (metadata only: secret values are never read)."""
        out: dict[str, dt.datetime | None] = {}
        for path in paths:
            response = self.get(f"/v1/{self.mount}/metadata/{quote(path)}")
            if response.status_code == 404:
                out[path] = None
                continue
            stamp = response.json().get("data", {}).get("updated_time")
            out[path] = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None
        return out
