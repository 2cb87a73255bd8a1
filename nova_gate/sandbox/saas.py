"""Stand-ins for SaaS APIs (Grafana, Vault): one small process, two ports, faults via its admin API."""

from __future__ import annotations

import sys
from typing import Any

import httpx

from nova_gate.sandbox import ports
from nova_gate.sandbox.base import Component, Fault, Health, port_open, wait_port


class SaasStandIns(Component):
    name = "saas"

    def start(self) -> None:
        if port_open(ports.GRAFANA) and port_open(ports.VAULT):
            return
        self.stop()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.spawn("saas", [sys.executable, "-m", "nova_gate.sandbox.saas_server", str(self.dir / "state.json")])
        wait_port(ports.GRAFANA, "grafana stand-in", 20)
        wait_port(ports.VAULT, "vault stand-in", 20)

    def health(self) -> Health:
        endpoint = f"grafana http://{ports.HOST}:{ports.GRAFANA}, vault http://{ports.HOST}:{ports.VAULT}"
        try:
            ok = all(
                httpx.get(f"http://{ports.HOST}:{p}{path}", timeout=2).status_code == 200
                for p, path in ((ports.GRAFANA, "/api/health"), (ports.VAULT, "/v1/sys/health"))
            )
        except httpx.HTTPError as exc:
            return Health(False, endpoint, self.pids(), str(exc))
        return Health(ok, endpoint, self.pids(), "" if ok else "not answering")

    def stop(self) -> None:
        self.stop_and_wait([ports.GRAFANA, ports.VAULT])

    @staticmethod
    def _admin(port: int, body: dict[str, Any]) -> None:
        httpx.post(f"http://{ports.HOST}:{port}/admin", json=body, timeout=5).raise_for_status()

    def snapshot(self) -> dict[str, Any]:
        """The stand-ins' state file: dashboards, secrets, buckets. A secret's update time is
        kept as its age in whole months (a reset re-dates it; the checks judge its age)."""
        import datetime as dt
        import json

        try:
            state = json.loads((self.dir / "state.json").read_text())
        except (OSError, ValueError):
            state = {}
        now = dt.datetime.now(dt.UTC)
        ages = {
            path: (now - dt.datetime.fromisoformat(stamp)).days // 30
            for path, stamp in state.get("secrets", {}).items()
        }
        return {**super().snapshot(), **{k: v for k, v in state.items() if k != "secrets"}, "secret_age_months": ages}

    def faults(self) -> list[Fault]:
        def admin(port: int, body: dict[str, Any]) -> Any:
            return lambda: self._admin(port, body)

        reset_g, reset_v = admin(ports.GRAFANA, {"reset": True}), admin(ports.VAULT, {"reset": True})
        return [
            Fault(
                "grafana-dashboard-missing",
                "dashboard nova-canary was deleted in Grafana",
                ("PRE-MON-2",),
                admin(ports.GRAFANA, {"delete": "nova-canary"}),
                reset_g,
                self.name,
            ),
            Fault(
                "vault-secret-missing",
                "secret nova/prod/jwt-signing-key is gone from Vault",
                ("PRE-CFG-2",),
                admin(ports.VAULT, {"delete": "nova/prod/jwt-signing-key"}),
                reset_v,
                self.name,
            ),
            Fault(
                "vault-secret-stale",
                "nova/prod/database-url was last updated 200 days ago",
                ("PRE-CFG-2",),
                admin(ports.VAULT, {"age_days": {"nova/prod/database-url": 200}}),
                reset_v,
                self.name,
            ),
        ]
