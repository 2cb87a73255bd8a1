"""Grafana's HTTP API: dashboards by uid (service-account token, httpx, timeouts)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from nova_gate.backends.grafana.config import Grafana
from nova_gate.backends.http_api import ABSENT, HttpApiSource, token_auth


class GrafanaSource(HttpApiSource):
    backend = "grafana"

    def __init__(self, cfg: Grafana, client: httpx.Client | None = None) -> None:
        super().__init__(cfg.url, timeout_s=cfg.timeout_s, auth=token_auth(cfg.token), client=client)

    def dashboards(self, uids: list[str]) -> dict[str, dict[str, Any] | None]:
        """Title and panel count per dashboard uid; None when Grafana says it does not exist."""
        out: dict[str, dict[str, Any] | None] = {}
        for uid in uids:
            answer = self.get_json(f"/api/dashboards/uid/{quote(uid)}")
            if answer is ABSENT:
                out[uid] = None
                continue
            dashboard = answer.get("dashboard", {}) if isinstance(answer, dict) else {}
            out[uid] = {"title": dashboard.get("title"), "panels": len(dashboard.get("panels", []))}
        return out
