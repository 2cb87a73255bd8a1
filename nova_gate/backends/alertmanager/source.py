"""Alertmanager facts over its API v2 (httpx): the loaded configuration and the current alerts."""

from __future__ import annotations

from typing import Any

import yaml

from nova_gate.backends.alertmanager.config import Alertmanager
from nova_gate.backends.base import Source, SourceError


class AlertmanagerSource(Source):
    backend = "alertmanager"

    def __init__(self, cfg: Alertmanager) -> None:
        super().__init__()
        import httpx

        self.cfg = cfg
        self.driver_errors = (httpx.HTTPError, OSError)
        self._http: httpx.Client | None = None

    @property
    def http(self) -> Any:
        import httpx

        if self._http is None:
            with self.call("credentials"):
                options = self.cfg.client_options()  # a *_file secret may be unreadable: a SourceError
            self._http = httpx.Client(base_url=self.cfg.url.rstrip("/"), timeout=self.cfg.timeout_s, **options)
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def _json(self, what: str, path: str, params: dict[str, str] | None = None) -> Any:
        with self.call(what):
            resp = self.http.get(path, params=params)
        if resp.status_code != 200:
            raise SourceError(self.backend, what, f"HTTP {resp.status_code}: {resp.text[:200]}")
        try:
            return resp.json()
        except ValueError as exc:
            raise SourceError(self.backend, what, f"not JSON: {exc}") from exc

    def config(self) -> dict[str, Any]:
        """The running configuration, parsed from /api/v2/status ``config.original``."""
        status = self._json("GET /api/v2/status", "/api/v2/status")
        original = (status.get("config") or {}).get("original") if isinstance(status, dict) else None
        if not isinstance(original, str) or not original.strip():
            raise SourceError(self.backend, "GET /api/v2/status", "no config.original in the answer")
        try:
            parsed = yaml.safe_load(original)
        except yaml.YAMLError as exc:
            raise SourceError(self.backend, "parse config.original", exc) from exc
        if not isinstance(parsed, dict):
            raise SourceError(self.backend, "parse config.original", "not a mapping")
        return parsed

    def alerts(self) -> list[dict[str, Any]]:
        """Active alerts, silenced and inhibited ones included (the rule tells them apart)."""
        data = self._json(
            "GET /api/v2/alerts",
            "/api/v2/alerts",
            {"active": "true", "silenced": "true", "inhibited": "true", "unprocessed": "true"},
        )
        if not isinstance(data, list):
            raise SourceError(self.backend, "GET /api/v2/alerts", "answer is not a list")
        return [a for a in data if isinstance(a, dict)]
