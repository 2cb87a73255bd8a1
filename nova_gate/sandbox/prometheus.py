"""Prometheus (Debian's package) scraping the simulator, with Nova alerting rules.

Data lives in ``.sandbox/prometheus/data``; the config is generated into ``.sandbox/prometheus``.
Rule files are ``sandbox/prometheus/rules/*.yml``; ``sandbox/prometheus/rules-no-runbook.yml`` is
only loaded while the ``prom-rule-without-runbook`` fault is injected.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from nova_gate.sandbox import identities, ports
from nova_gate.sandbox.base import (
    Component,
    Fault,
    Health,
    SandboxError,
    apt_install,
    port_open,
    run,
    sandbox_data_dir,
    state_dir,
    wait_for,
)
from nova_gate.sandbox.history import PROMTOOL

PROC = "prometheus"
BINARY = "/usr/bin/prometheus"
SCRAPE_INTERVAL = "15s"
#: HTTPS and basic auth (--web.config.file); the admin API, lifecycle and remote write are off
URL = f"https://{ports.HOST}:{ports.PROMETHEUS}"


def tls_context() -> ssl.SSLContext:
    """Trusts the sandbox CA (what every sandbox-internal client of Prometheus/Alertmanager uses)."""
    return ssl.create_default_context(cafile=str(state_dir() / "pki" / "ca.crt"))


def api(path: str, params: dict[str, Any] | None = None, method: str = "GET", timeout: float = 10) -> Any:
    """Call Prometheus' HTTP API as the sandbox's admin; return the decoded ``data`` (or raw body)."""
    url = URL + path + ("?" + urllib.parse.urlencode(params) if params else "")
    req = urllib.request.Request(
        url,
        method=method,
        data=b"" if method == "POST" else None,
        headers=identities.basic_auth_header(identities.PROM_ADMIN),
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=tls_context()) as resp:
            body = resp.read()
    except urllib.error.HTTPError as exc:
        raise SandboxError(f"prometheus {path}: HTTP {exc.code}: {exc.read()[:200]!r}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise SandboxError(f"prometheus {path}: {exc}") from exc
    try:
        doc = json.loads(body)
    except ValueError:
        return body.decode(errors="replace")
    return doc.get("data") if isinstance(doc, dict) and "data" in doc else doc


def query(expr: str, at: float | None = None) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"query": expr}
    if at is not None:
        params["time"] = f"{at:.3f}"
    data = api("/api/v1/query", params)
    return list(data.get("result", [])) if isinstance(data, dict) else []


class Prometheus(Component):
    name = "prometheus"
    requires = ("simulator",)

    @property
    def tsdb(self) -> Path:
        return self.dir / "data"

    @property
    def config_path(self) -> Path:
        return self.dir / "prometheus.yml"

    @property
    def no_runbook_marker(self) -> Path:
        return self.dir / "fault-rules-no-runbook"

    @property
    def web_config_path(self) -> Path:
        return self.dir / "web.yml"

    def write_web_config(self) -> Path:
        """TLS from the sandbox CA and two basic-auth users: the sandbox's admin and the gates."""
        from nova_gate.sandbox.pki import sandbox_ca

        pair = sandbox_ca(self.root).server("prometheus")
        users = (identities.PROM_ADMIN, identities.PROM_GATES)
        identities.web_config(self.web_config_path, users, pair.cert, pair.key)
        # the password Prometheus sends to Alertmanager (basic_auth.password_file)
        secret = self.dir / "alertmanager.password"
        fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(identities.AM_ADMIN.password)
        return self.web_config_path

    # -- lifecycle --------------------------------------------------------------------------
    def install(self) -> None:
        if not (Path(BINARY).exists() and Path(PROMTOOL).exists()):
            apt_install("prometheus")
            # Debian starts the packaged service on :9090; the sandbox runs its own instance
            run(
                ["sh", "-c", "command -v systemctl >/dev/null && systemctl disable --now prometheus || true"],
                check=False,
            )

    def write_config(self) -> Path:
        rules_dir = sandbox_data_dir() / "prometheus"
        rule_files = [str(rules_dir / "rules" / "*.yml")]
        if self.no_runbook_marker.exists():
            rule_files.append(str(rules_dir / "rules-no-runbook.yml"))
        config = {
            "global": {
                "scrape_interval": SCRAPE_INTERVAL,
                "scrape_timeout": "10s",
                "evaluation_interval": SCRAPE_INTERVAL,
                "external_labels": {"environment": "sandbox"},
            },
            "alerting": {
                "alertmanagers": [
                    {
                        "scheme": "https",
                        "tls_config": {"ca_file": str(self.root / "pki" / "ca.crt")},
                        "basic_auth": {
                            "username": identities.AM_ADMIN.user,
                            "password_file": str(self.dir / "alertmanager.password"),
                        },
                        "static_configs": [{"targets": [f"{ports.HOST}:{ports.ALERTMANAGER}"]}],
                    }
                ]
            },
            "rule_files": rule_files,
            "scrape_configs": [
                {
                    "job_name": "nova",
                    # the services label their own series with service/version; keep them as exported
                    "honor_labels": True,
                    "metrics_path": "/metrics",
                    "static_configs": [
                        {"targets": [f"{ports.HOST}:{port}"], "labels": {"service": service}}
                        for service, port in ports.SERVICES.items()
                    ],
                },
                {
                    # consumer lag from the brokers' offsets (nova_gate/sandbox/streams.py); the
                    # history backfills the same series (job and instance included) for the past
                    "job_name": "kafka-exporter",
                    "metrics_path": "/metrics",
                    "static_configs": [{"targets": [f"{ports.HOST}:{ports.KAFKA_EXPORTER}"]}],
                },
            ],
        }
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(
            "# generated by nova_gate.sandbox.prometheus; edits are overwritten\n"
            + yaml.safe_dump(config, sort_keys=False)
        )
        run([PROMTOOL, "check", "config", str(self.config_path)], timeout=60)
        return self.config_path

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.write_web_config()
        self.write_config()
        if self.pids() and self.health().healthy:
            return
        if port_open(ports.PROMETHEUS) and not self.pids():
            raise SandboxError(f"prometheus: port {ports.PROMETHEUS} already in use by another process")
        if not self.tsdb.exists():
            # a fresh TSDB gets the active scenario's history, so the gates have a past to look at
            from nova_gate.sandbox import history

            if history.active_scenario() is not None:
                history.backfill(history.active_model(), self.tsdb)
        self.tsdb.mkdir(parents=True, exist_ok=True)
        self.spawn(
            PROC,
            [
                BINARY,
                f"--config.file={self.config_path}",
                f"--storage.tsdb.path={self.tsdb}",
                "--storage.tsdb.retention.time=15d",
                f"--web.listen-address={ports.HOST}:{ports.PROMETHEUS}",
                f"--web.config.file={self.web_config_path}",
                f"--web.external-url={URL}",
                # as production: no admin API (delete series, snapshots), no /-/reload or /-/quit over
                # HTTP (the sandbox reloads with SIGHUP), no remote-write receiver: nothing writes
                "--log.level=warn",
            ],
            cwd=self.dir,
        )
        wait_for(lambda: self._ready() or not self.pids(), "prometheus /-/ready", timeout=60)
        if not self._ready():
            raise SandboxError(f"prometheus: did not become ready; see {self.logs / (PROC + '.log')}")

    def stop(self) -> None:
        self.stop_and_wait([ports.PROMETHEUS], timeout=30)

    def _ready(self) -> bool:
        req = urllib.request.Request(f"{URL}/-/ready", headers=identities.basic_auth_header(identities.PROM_ADMIN))
        try:
            with urllib.request.urlopen(req, timeout=2, context=tls_context()) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def _last_config_time(self) -> str:
        try:
            return str(api("/api/v1/status/runtimeinfo", timeout=5).get("lastConfigTime", ""))
        except (SandboxError, AttributeError):
            return ""

    def reload(self) -> None:
        """Rewrite the config and SIGHUP the server (the lifecycle API is off); wait for the reload."""
        self.write_config()
        before = self._last_config_time()
        time.sleep(1.1)  # lastConfigTime has one-second resolution: a reload in the same second is invisible
        pids = self.pids()
        if not pids:
            raise SandboxError("prometheus: not running, cannot reload")
        os.kill(pids[0], signal.SIGHUP)
        wait_for(lambda: self._last_config_time() not in ("", before), "prometheus to reload its config", 20)

    def wipe_tsdb(self) -> None:
        shutil.rmtree(self.tsdb, ignore_errors=True)

    def answers(self, expr: str) -> bool:
        """Whether Prometheus answers this query with at least one series."""
        try:
            return bool(query(expr))
        except SandboxError:
            return False

    def health(self) -> Health:
        pids = self.pids()
        if not pids:
            return Health(False, URL, [], "not running")
        if not self._ready():
            return Health(False, URL, pids, "not ready")
        try:
            targets = api("/api/v1/targets", {"state": "active"}, timeout=3)["activeTargets"]
        except (SandboxError, KeyError, TypeError) as exc:
            return Health(False, URL, pids, f"targets: {exc}")
        up = sum(1 for t in targets if t.get("health") == "up")
        return Health(True, URL, pids, f"{up}/{len(targets)} targets up")

    # -- faults -------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """The configuration file, the loaded rules (file, group, name, labels, annotations; not
        their state or evaluation times) and the active targets' health."""
        groups = api("/api/v1/rules", timeout=5).get("groups", [])
        rules = sorted(
            (Path(g["file"]).name, g["name"], r.get("name", ""), sorted((r.get("labels") or {}).items()),
             sorted((r.get("annotations") or {}).items()))
            for g in groups for r in g.get("rules", [])
        )  # fmt: skip
        # right after a (re)start the target list is empty until discovery, then each target is
        # "unknown" until its first scrape: wait for both to settle
        deadline = time.monotonic() + 40
        while True:
            targets = api("/api/v1/targets", {"state": "active"}, timeout=5).get("activeTargets", [])
            if time.monotonic() > deadline or (targets and all(t.get("health") != "unknown" for t in targets)):
                break
            time.sleep(1)
        return {
            **super().snapshot(),
            "config": self.config_path.read_text() if self.config_path.exists() else None,
            "rules": rules,
            "targets": sorted(
                (t["labels"].get("job", ""), t["labels"].get("service", ""), t["health"]) for t in targets
            ),
        }

    def faults(self) -> list[Fault]:
        return [
            Fault(
                name="prom-target-down",
                breaks="search-service answers 503 + close on every path: its scrape target goes down",
                catches=("PRE-MON-1", "MON-1"),
                inject=self._target_down,
                undo=self._target_up,
                component=self.name,
            ),
            Fault(
                name="prom-rule-without-runbook",
                breaks="an extra alerting rule file whose rule has no runbook_url annotation is loaded",
                catches=("PRE-MON-4",),
                inject=self._load_no_runbook,
                undo=self._unload_no_runbook,
                component=self.name,
            ),
        ]

    def _wait_target(self, service: str, health: str) -> None:
        """Wait until Prometheus itself has scraped the target into the wanted state."""

        def reached() -> bool:
            try:
                targets = api("/api/v1/targets", {"state": "active"}, timeout=3)["activeTargets"]
            except (SandboxError, KeyError, TypeError):
                return False
            return any(t["labels"].get("service") == service and t.get("health") == health for t in targets)

        wait_for(reached, f"prometheus target {service} {health}", timeout=60, interval=1)

    def _target_down(self) -> None:
        from nova_gate.sandbox.simulator import set_knob

        set_knob("search-service", down=True)
        if self.pids():
            self._wait_target("search-service", "down")

    def _target_up(self) -> None:
        from nova_gate.sandbox.simulator import set_knob

        set_knob("search-service", down=False)
        if self.pids():
            self._wait_target("search-service", "up")

    def _rule_files_loaded(self) -> set[str]:
        groups = api("/api/v1/rules", timeout=5).get("groups", [])
        return {Path(g["file"]).name for g in groups}

    def _load_no_runbook(self) -> None:
        self.no_runbook_marker.parent.mkdir(parents=True, exist_ok=True)
        self.no_runbook_marker.write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ\n", time.gmtime()))
        self.reload()
        wait_for(lambda: "rules-no-runbook.yml" in self._rule_files_loaded(), "no-runbook rules loaded", 20)

    def _unload_no_runbook(self) -> None:
        self.no_runbook_marker.unlink(missing_ok=True)
        if self.pids():
            self.reload()
            wait_for(lambda: "rules-no-runbook.yml" not in self._rule_files_loaded(), "no-runbook rules gone", 20)
        else:
            self.write_config()
