"""Grafana's HTTP API: dashboards by uid (service-account token, httpx, timeouts)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from nova_gate.backends.grafana.config import Grafana
from nova_gate.backends.http_api import HttpApiSource


class GrafanaSource(HttpApiSource):
    backend = "grafana"

    def __init__(self, cfg: Grafana) -> None:
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
