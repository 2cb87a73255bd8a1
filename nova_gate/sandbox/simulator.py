"""The simulated Nova release: 11 services (one Python process) with health, metrics and a smoke API.

The process is ``python -m nova_gate.sandbox.nova_sim``; its metrics follow the active scenario
(``history.load`` switches it) and the runtime knobs on the admin port (faults use them).
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from typing import Any

from nova_gate.config import project_root
from nova_gate.sandbox import nova_sim, ports, sim_model
from nova_gate.sandbox.base import Component, Fault, Health, SandboxError, port_open, run, wait_for

PROC = "simulator"


def admin(path: str, body: dict[str, Any] | None = None, method: str | None = None, timeout: float = 5) -> Any:
    """Call the simulator's admin API (``/admin/knobs`` ...) and return the decoded JSON answer."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        f"http://{ports.HOST}:{nova_sim.ADMIN_PORT}{path}",
        data=data,
        method=method or ("POST" if data is not None else "GET"),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read() or b"null")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise SandboxError(f"simulator admin {path}: {exc}") from exc


def set_knob(service: str, version: str | None = None, **knobs: Any) -> dict[str, Any]:
    """Set runtime knobs (error_rate 0..1, latency_ms, down, crash) for a service (and version)."""
    body: dict[str, Any] = {"service": service, **knobs}
    if version:
        body["version"] = version
    result: dict[str, Any] = admin("/admin/knobs", body)
    return result


class Simulator(Component):
    name = "simulator"
    requires = ("postgres", "redis")  # the services' database pool and cache

    def install(self) -> None:
        try:
            import cryptography  # noqa: F401
            import psycopg  # noqa: F401
            import redis  # noqa: F401
            import yaml  # noqa: F401
        except ImportError:
            run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    "cryptography",
                    "psycopg[binary]",
                    "redis",
                    "PyYAML",
                ]
            )

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        if not sim_model.scenario_file().exists():
            # make the default explicit, with a time anchor that survives restarts
            from nova_gate.sandbox import history

            history.activate(history.read_scenario("good-release"))
        pid = self.pid(PROC)
        if pid and pid in self.pids() and self.health().healthy:
            return
        busy = [p for p in [*ports.SERVICES.values(), nova_sim.ADMIN_PORT] if port_open(p)]
        if busy and not self.pids():
            raise SandboxError(f"simulator: port(s) {busy} already in use by another process")
        self.spawn(
            PROC,
            [sys.executable, "-m", "nova_gate.sandbox.nova_sim"],
            cwd=project_root(),
            env={"PYTHONUNBUFFERED": "1"},
        )
        wait_for(lambda: self.health().healthy or not self.pids(), "simulator ports", timeout=30)
        if not self.health().healthy:
            raise SandboxError(f"simulator: did not come up; see {self.logs / (PROC + '.log')}")

    def stop(self) -> None:
        self.stop_and_wait([*ports.SERVICES.values(), nova_sim.ADMIN_PORT])

    def health(self) -> Health:
        endpoint = f"http://{ports.HOST}:{min(ports.SERVICES.values())}-{max(ports.SERVICES.values())}"
        pids = self.pids()
        closed = [s for s, p in ports.SERVICES.items() if not port_open(p)]
        if not pids:
            return Health(False, endpoint, [], "not running")
        if closed or not port_open(nova_sim.ADMIN_PORT):
            return Health(False, endpoint, pids, f"ports closed: {', '.join(closed) or 'admin'}")
        try:
            scenario = admin("/admin/scenario", timeout=2)
            knobs = admin("/admin/knobs", timeout=2)
        except SandboxError as exc:
            return Health(False, endpoint, pids, str(exc))
        detail = f"scenario {scenario.get('name')}"
        if knobs:
            detail += f"; knobs: {', '.join(sorted(knobs))}"
        return Health(True, endpoint, pids, detail)

    # -- faults -----------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Runtime knobs, the active scenario's name, the auth service's JWKS key ids."""
        scenario = admin("/admin/scenario") or {}
        name = scenario.get("name") if isinstance(scenario, dict) else None
        if isinstance(scenario, dict) and isinstance(scenario.get("scenario"), dict):
            name = scenario["scenario"].get("name", name)
        with urllib.request.urlopen(
            f"http://{ports.HOST}:{ports.SERVICES[DOWN_SERVICE]}/.well-known/jwks.json", timeout=5
        ) as resp:
            kids = sorted(k.get("kid", "") for k in json.loads(resp.read()).get("keys", []))
        return {**super().snapshot(), "knobs": admin("/admin/knobs"), "scenario": name, "jwks_kids": kids}

    def faults(self) -> list[Fault]:
        return [
            Fault(
                "auth-service-down",
                f"{DOWN_SERVICE} answers 503 on every path (health, probes, JWKS, auth API)",
                ("PST-1", "PST-2", "RBK-5", "PRE-CFG-3"),
                lambda: set_knob(DOWN_SERVICE, down=True),
                _auth_back_up,
                self.name,
            ),
            Fault(
                "jwks-rotation-without-overlap",
                "the auth service signs with a new key and withdraws the old one at once, while tokens "
                "the old key signed are still valid (no rotation overlap)",
                ("PRE-CFG-3",),
                lambda: admin("/admin/jwks", {"rotate": "without-overlap"}),
                lambda: admin("/admin/jwks", {"restore": True}),
                self.name,
                # the gate must have seen the old key before the fault: the proof runs it healthy first
                seen_healthy_first=True,
            ),
            Fault(
                "smoke-role-revoked",
                "the services' database role may no longer INSERT into users (registration breaks)",
                ("PST-3", "PST-4", "PST-5", "PST-6", "PD-2"),
                lambda: _smoke_grant(revoke=True),
                lambda: _smoke_grant(revoke=False),
                self.name,
            ),
        ]


DOWN_SERVICE = "auth-service"


def _auth_back_up() -> None:
    """Undo auth-service-down: the service answers again, and Prometheus has scraped it up (else
    its target stays down for up to a scrape interval, and an "all targets up" check right after
    the undo fails)."""
    from nova_gate.sandbox import manager  # by name: prometheus.py imports this module

    set_knob(DOWN_SERVICE, down=False)
    prometheus: Any = manager.component("prometheus")
    if prometheus.pids():
        prometheus._wait_target(DOWN_SERVICE, "up")


def _smoke_grant(revoke: bool) -> None:
    """Revoke or re-grant INSERT on users for the simulator's database role (superuser session)."""
    from nova_gate.sandbox.postgres import SMOKE_ROLE, _sql

    _sql(f"REVOKE INSERT ON users FROM {SMOKE_ROLE}" if revoke else f"GRANT INSERT ON users TO {SMOKE_ROLE}")
