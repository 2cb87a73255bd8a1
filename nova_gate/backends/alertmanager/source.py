"""Alertmanager facts over its API v2 (httpx): the loaded configuration and the current alerts."""

from __future__ import annotations

from typing import Any

import httpx
import yaml

from nova_gate.backends.alertmanager.config import Alertmanager
from nova_gate.backends.base import SourceError
from nova_gate.backends.http_api import ABSENT, HttpApiSource


class AlertmanagerSource(HttpApiSource):
    backend = "alertmanager"

    def __init__(self, cfg: Alertmanager, client: httpx.Client | None = None) -> None:
        super().__init__(cfg.url, timeout_s=cfg.timeout_s, client=client, options=cfg.client_options)
        self.cfg = cfg

    def _json(self, what: str, path: str, params: dict[str, str] | None = None) -> Any:
        doc = self.get_json(path, what=what, params=params)
        if doc is ABSENT:
            raise SourceError(self.backend, what, f"HTTP 404: no {path} here (is this Alertmanager's API v2?)")
        return doc

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
