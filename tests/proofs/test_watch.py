"""Watch mode on the real sandbox: a healthy window completes (PROCEED only then); a bad canary stops it
early through the anytime-valid test; a catastrophic canary stops it at once."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from nova_gate.sandbox import history, ports
from nova_gate.sandbox.base import sandbox_data_dir
from nova_gate.sandbox.prometheus import api as prometheus_api  # the sandbox admin, over TLS
from nova_gate.watch import watch

ADMIN = f"http://{ports.HOST}:{ports.SIMULATOR_ADMIN}/admin/knobs"


def _journal(lines: list[str]) -> list[dict]:
    path = Path(next(line.rsplit("journal ", 1)[1].rstrip(")") for line in lines if "journal" in line))
    return [json.loads(x) for x in path.read_text().splitlines()]


def _wait_until_calm(timeout: float = 120) -> None:
    """The 1-minute error rate lingers after the knob is gone: wait so later proofs see a calm canary."""
    query = (
        'max(sum by (service) (rate(http_requests_total{status="500",version="v1.0.0"}[1m]))'
        ' / sum by (service) (rate(http_requests_total{version="v1.0.0"}[1m])))'
    )

    deadline = time.monotonic() + timeout
    seen: object = None
    while time.monotonic() < deadline:
        result = prometheus_api("/api/v1/query", {"query": query}, timeout=5)["result"]
        if result and float(result[0]["value"][1]) < 0.05:
            return
        seen = result[0]["value"][1] if result else "no series"
        time.sleep(5)
    raise AssertionError(f"the canary's 1-minute error rate is still {seen} {timeout:.0f} s after the reset")


def test_healthy_window_completes_with_every_evaluation_kept():
    lines: list[str] = []
    assert watch("canary_gate", interval_s=4, max_minutes=0.2, log=lines.append) == 0
    evaluations = _journal(lines)
    assert len(evaluations) >= 2
    assert all(e["decision"] == "CONTINUE" and e["anytime"] == {} for e in evaluations[:-1]), evaluations
    assert evaluations[-1]["decision"] == "PROCEED"  # only the complete window decides PROCEED


def test_bad_canary_stops_early_on_the_anytime_valid_test():
    """bad-canary: 2.5% errors for the last 10 minutes; a watch of the canary window begun 12 minutes ago
    stops at its first look, before the window is complete, with the bounded-false-rollback test."""
    history.load(str(sandbox_data_dir() / "scenarios" / "bad-canary.yaml"))
    lines: list[str] = []
    try:
        assert watch("canary_gate", interval_s=5, max_minutes=15, since_minutes=12, log=lines.append) == 1
    finally:
        history.load(str(sandbox_data_dir() / "scenarios" / "good-release.yaml"))
    journal = _journal(lines)
    last = journal[-1]
    assert last["decision"] == "ROLLBACK" and len(journal) == 1, journal
    assert "error_rate" in next(iter(last["anytime"].values())), last


def test_catastrophic_canary_stops_at_once():
    httpx.post(ADMIN, json={"service": "feed-service", "version": "v1.0.0", "error_rate": 0.5}).raise_for_status()
    lines: list[str] = []
    try:
        assert watch("canary_gate", interval_s=10, max_minutes=3, log=lines.append) == 1
    finally:
        httpx.post(f"{ADMIN}/reset").raise_for_status()
        _wait_until_calm()

    journal = _journal(lines)
    assert journal[-1].get("catastrophic") == [["feed-service", "v1.0.0"]], journal
