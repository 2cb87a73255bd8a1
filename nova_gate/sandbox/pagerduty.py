"""PagerDuty for the sandbox: a stand-in for its REST API v2 on-calls (``pagerduty_server.py``),
HTTPS from the sandbox CA on 58203, a read-only API key for the gates and an admin key for the faults.

Two escalation policies (``PNOVA01`` Nova backend, ``PNOVA02`` Nova database) on 12-hour rotations
at level 1, a permanent manager at level 2. Faults cut the release window's coverage.
"""

from __future__ import annotations

import ssl
import sys
from typing import Any

import httpx

from nova_gate.sandbox import ports
from nova_gate.sandbox.base import Component, Fault, Health, SandboxError, port_open, wait_port
from nova_gate.sandbox.pagerduty_server import ACCEPT_V2, ADMIN_TOKEN, POLICIES, READ_TOKEN

URL = f"https://{ports.HOST}:{ports.PAGERDUTY}"
PROC = "pagerduty"


class PagerDutyStandIn(Component):
    name = "pagerduty"

    def _tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.root / "pki" / "ca.crt"))

    def start(self) -> None:
        if port_open(ports.PAGERDUTY):
            if self.pid(PROC) is None:
                raise SandboxError(f"pagerduty: port {ports.PAGERDUTY} is taken by a process the sandbox did not start")
            return
        from nova_gate.sandbox.pki import sandbox_ca

        pair = sandbox_ca(self.root).server("pagerduty")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.spawn(
            PROC,
            [
                sys.executable,
                "-m",
                "nova_gate.sandbox.pagerduty_server",
                str(self.dir / "state.json"),
                "--host",
                ports.HOST,
                "--port",
                str(ports.PAGERDUTY),
                "--tls-cert",
                str(pair.cert),
                "--tls-key",
                str(pair.key),
            ],
        )
        wait_port(ports.PAGERDUTY, "pagerduty stand-in", 20)

    def health(self) -> Health:
        try:
            answer = httpx.get(
                f"{URL}/oncalls",
                params={"escalation_policy_ids[]": list(POLICIES), "limit": "1"},
                headers={"Authorization": f"Token token={READ_TOKEN}", "Accept": ACCEPT_V2},
                verify=self._tls(),
                timeout=3,
            )
            ok = answer.status_code == 200 and bool(answer.json().get("oncalls"))
        except (httpx.HTTPError, OSError, ValueError) as exc:
            return Health(False, URL, self.pids(), str(exc)[:160])
        return Health(ok, URL, self.pids(), f"{len(POLICIES)} escalation policies" if ok else "no on-calls")

    def stop(self) -> None:
        self.stop_and_wait([ports.PAGERDUTY])

    def _admin(self, body: dict[str, Any]) -> None:
        httpx.post(
            f"{URL}/admin",
            json=body,
            headers={"Authorization": f"Token token={ADMIN_TOKEN}", "Accept": ACCEPT_V2},
            verify=self._tls(),
            timeout=5,
        ).raise_for_status()

    def snapshot(self) -> dict[str, Any]:
        """The schedules' changes (gaps, cleared policies); the rotation's anchor moves on a reset."""
        import json

        try:
            state = json.loads((self.dir / "state.json").read_text())
        except (OSError, ValueError):
            state = {}
        return {**super().snapshot(), "cleared": state.get("cleared"), "gaps": len(state.get("gaps") or [])}

    def faults(self) -> list[Fault]:
        def admin(body: dict[str, Any]) -> Any:
            return lambda: self._admin(body)

        reset = admin({"reset": True})
        return [
            Fault(
                "pagerduty-oncall-gap",
                "Nova backend's schedule (PNOVA01) has nobody on call from T+6h to T+18h of the release window",
                ("PRE-MON-5",),
                admin({"gap": {"policy": "PNOVA01", "from_h": 6, "to_h": 18}}),
                reset,
                self.name,
            ),
            Fault(
                "pagerduty-nobody-on-call",
                "Nova database's escalation policy (PNOVA02) has nobody on call at level 1",
                ("PRE-MON-5",),
                admin({"clear": "PNOVA02"}),
                reset,
                self.name,
            ),
        ]
