"""Prometheus Alertmanager (Debian's prometheus-alertmanager) on 59093, plus the local alert sink.

Config: ``sandbox/alertmanager/alertmanager.yml`` (warnings to a ``slack`` receiver, severity=critical
to a ``pagerduty`` receiver; both point at the sink on 59095). Clustering is off
(``--cluster.listen-address=``); silences and the notification log live under .sandbox.
"""

from __future__ import annotations

import ssl
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from nova_gate.config import project_root
from nova_gate.sandbox import identities, ports
from nova_gate.sandbox.base import (
    Component,
    Fault,
    Health,
    SandboxError,
    port_open,
    sandbox_data_dir,
    state_dir,
    wait_for,
)

BINARY = "/usr/bin/prometheus-alertmanager"
#: HTTPS and basic auth (--web.config.file); the sandbox's own calls use the admin identity
URL = f"https://{ports.HOST}:{ports.ALERTMANAGER}"
SINK_URL = f"http://{ports.HOST}:{ports.ALERT_SINK}"
CRITICAL_ALERT_LABELS = {"alertname": "NovaHighErrorRate", "severity": "critical", "service": "feed-service"}


def config_file() -> Path:
    return sandbox_data_dir() / "alertmanager" / "alertmanager.yml"


def _client_kwargs(url: str) -> dict[str, Any]:
    if not url.startswith(URL):
        return {}
    return {
        "verify": ssl.create_default_context(cafile=str(state_dir() / "pki" / "ca.crt")),
        "headers": identities.basic_auth_header(identities.AM_ADMIN),
    }


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2, **_client_kwargs(url)).status_code == 200
    except httpx.HTTPError:
        return False


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def post_alerts(alerts: list[dict[str, Any]]) -> None:
    resp = httpx.post(f"{URL}/api/v2/alerts", json=alerts, timeout=5, **_client_kwargs(URL))
    if resp.status_code != 200:
        raise SandboxError(f"alertmanager: POST /api/v2/alerts answered {resp.status_code}: {resp.text[:200]}")


def active_alerts() -> list[dict[str, Any]]:
    resp = httpx.get(f"{URL}/api/v2/alerts", params={"active": "true"}, timeout=5, **_client_kwargs(URL))
    resp.raise_for_status()
    alerts: list[dict[str, Any]] = resp.json()
    return alerts


class Alertmanager(Component):
    name = "alertmanager"

    apt_packages = ((BINARY, "prometheus-alertmanager"),)

    def start(self) -> None:
        self.subdir("data")  # --storage.path below
        self._spawn_checked(
            "alertmanager-sink",
            ports.ALERT_SINK,
            [
                sys.executable,
                "-m",
                "nova_gate.sandbox.alert_sink",
                "--host",
                ports.HOST,
                "--port",
                str(ports.ALERT_SINK),
                "--record",
                str(self.dir / "sink.jsonl"),
            ],
            f"{SINK_URL}/-/healthy",
        )
        self._spawn_checked("alertmanager", ports.ALERTMANAGER, self._argv(config_file()), f"{URL}/-/ready")

    def _web_config(self) -> Path:
        from nova_gate.sandbox.pki import sandbox_ca

        pair = sandbox_ca(self.root).server("alertmanager")
        path = self.dir / "web.yml"
        identities.web_config(path, (identities.AM_ADMIN, identities.AM_GATES), pair.cert, pair.key)
        return path

    def _argv(self, config: Path) -> list[str]:
        data = self.dir / "data"
        return [
            BINARY,
            f"--config.file={config}",
            f"--storage.path={data}",
            f"--web.listen-address={ports.HOST}:{ports.ALERTMANAGER}",
            f"--web.config.file={self._web_config()}",
            "--cluster.listen-address=",
            f"--web.external-url={URL}",
            "--data.retention=120h",
            "--log.level=info",
        ]

    def _spawn_checked(self, proc: str, port: int, argv: list[str], ready_url: str) -> None:
        if not self.running(proc, port):
            self.spawn(proc, argv, cwd=project_root(), env={"PYTHONPATH": str(project_root())})
        self.wait_started(proc, lambda: _ok(ready_url), f"{proc} at {ready_url}", 30)

    def health(self) -> Health:
        problems = []
        if not _ok(f"{URL}/-/healthy"):
            problems.append(f"alertmanager {URL} not healthy")
        if not _ok(f"{SINK_URL}/-/healthy"):
            problems.append(f"alert sink {SINK_URL} not healthy")
        return Health(not problems, URL, self.pids(), "; ".join(problems) or f"sink {SINK_URL}")

    # -- faults -----------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """The running configuration (routes, receivers), active alerts and silences (labels,
        matchers, state; not ids or times)."""
        status = httpx.get(f"{URL}/api/v2/status", timeout=5, **_client_kwargs(URL)).json()
        silences = httpx.get(f"{URL}/api/v2/silences", timeout=5, **_client_kwargs(URL)).json()
        return {
            **super().snapshot(),
            "config": status.get("config", {}).get("original", ""),
            "alerts": sorted((sorted(a["labels"].items()), a["status"]["state"]) for a in active_alerts()),
            "silences": sorted(
                (sorted((m["name"], m["value"]) for m in s.get("matchers", [])), s.get("comment", ""))
                for s in silences
                if s.get("status", {}).get("state") != "expired"
            ),
        }

    def faults(self) -> list[Fault]:
        return [
            Fault(
                "alert-critical-firing",
                "a severity=critical alert NovaHighErrorRate is firing",
                ("PD-3", "MON-2"),
                self._fire,
                self._resolve,
                self.name,
            ),
            Fault(
                "alertmanager-no-paging",
                "Alertmanager restarted with a config whose only receiver is a webhook (no PagerDuty/Slack)",
                ("PRE-MON-3",),
                lambda: self._restart(self._no_paging_config()),
                lambda: self._restart(config_file()),
                self.name,
            ),
        ]

    def _no_paging_config(self) -> Path:
        path = self.dir / "alertmanager-no-paging.yml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            "# written by nova-gate's alertmanager-no-paging fault: nothing pages anyone\n"
            "route:\n  receiver: webhook\n  group_by: [alertname]\n"
            "receivers:\n  - name: webhook\n    webhook_configs:\n"
            f"      - url: {SINK_URL}/webhook/nowhere\n"
        )
        return path

    def _restart(self, config: Path) -> None:
        self.stop_process("alertmanager")
        wait_for(lambda: not port_open(ports.ALERTMANAGER), "alertmanager port to close", timeout=20)
        self._spawn_checked("alertmanager", ports.ALERTMANAGER, self._argv(config), f"{URL}/-/ready")

    def _alert(self, ends: datetime) -> dict[str, Any]:
        now = datetime.now(UTC)
        return {
            "labels": CRITICAL_ALERT_LABELS,
            "annotations": {
                "summary": "feed-service 5xx ratio above 5% for 5 minutes",
                "runbook_url": "https://runbooks.nova.test/feed-service/high-error-rate",
            },
            "startsAt": _iso(now - timedelta(minutes=6)),
            "endsAt": _iso(ends),
            "generatorURL": f"https://{ports.HOST}:{ports.PROMETHEUS}/graph?g0.expr=nova_http_error_ratio",
        }

    def _firing(self) -> bool:
        return any(
            a["labels"].get("alertname") == CRITICAL_ALERT_LABELS["alertname"] and a["status"]["state"] == "active"
            for a in active_alerts()
        )

    def _fire(self) -> None:
        post_alerts([self._alert(datetime.now(UTC) + timedelta(days=7))])
        wait_for(self._firing, "the critical alert to be active", timeout=10)

    def _resolve(self) -> None:
        post_alerts([self._alert(datetime.now(UTC))])
        wait_for(lambda: not self._firing(), "the critical alert to resolve", timeout=10)
