"""Watch mode on the real sandbox: a healthy window completes; a catastrophic canary stops it at once."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from nova_gate.sandbox import ports
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
    while time.monotonic() < deadline:
        result = httpx.get(
            f"http://{ports.HOST}:{ports.PROMETHEUS}/api/v1/query", params={"query": query}, timeout=5
        ).json()["data"]["result"]
        if result and float(result[0]["value"][1]) < 0.05:
            return
        time.sleep(5)


def test_healthy_window_completes_with_every_evaluation_kept():
    lines: list[str] = []
    assert watch("canary_gate", interval_s=4, max_minutes=0.2, log=lines.append) == 0
    evaluations = _journal(lines)
    assert len(evaluations) >= 2 and all(e["decision"] == "PROCEED" for e in evaluations)


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
