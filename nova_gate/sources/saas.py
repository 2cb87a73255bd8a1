"""SaaS APIs the checklist reads: Grafana dashboards, Vault KV v2 secret metadata (httpx, timeouts)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

import httpx

from nova_gate.config import Url, Vault
from nova_gate.sources.base import Source, SourceError


class _Http(Source):
    backend = "http"
    driver_errors = (httpx.HTTPError, OSError)

    def __init__(self, base_url: str, headers: dict[str, str], timeout_s: float) -> None:
        super().__init__()
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s, follow_redirects=False
        )

    def get(self, path: str) -> httpx.Response:
        with self.call(f"GET {path}"):
            response = self._client.get(path)
        if response.status_code in (401, 403):
            raise SourceError(self.backend, f"GET {path}: unauthorised ({response.status_code})")
        if response.status_code >= 500:
            raise SourceError(self.backend, f"GET {path}: server error {response.status_code}")
        return response

    def close(self) -> None:
        self._client.close()


class GrafanaSource(_Http):
    backend = "grafana"

    def __init__(self, cfg: Url) -> None:
        token = cfg.token.get_secret_value() if cfg.token else ""
        super().__init__(cfg.url, {"Authorization": f"Bearer {token}"} if token else {}, cfg.timeout_s)

    def dashboards(self, uids: list[str]) -> dict[str, dict[str, Any] | None]:
        """Title and panel count per dashboard uid; None when Grafana says it does not exist."""
        out: dict[str, dict[str, Any] | None] = {}
        for uid in uids:
            response = self.get(f"/api/dashboards/uid/{quote(uid)}")
            if response.status_code == 404:
                out[uid] = None
                continue
            dashboard = response.json().get("dashboard", {})
            out[uid] = {"title": dashboard.get("title"), "panels": len(dashboard.get("panels", []))}
        return out


class VaultSource(_Http):
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
