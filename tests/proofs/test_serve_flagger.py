"""``nova-gate serve`` with the real phase runner: Flagger's call runs a real gate on the sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from nova_gate.serve import GateService, SubprocessRunner, create_app
from tests.unit.asgi_server import Server


def test_flagger_pre_rollout_runs_the_images_gate_for_real(tmp_path: Path) -> None:
    runner = SubprocessRunner(tmp_path, timeout_s=240)
    payload = {
        "name": "feed-service",
        "namespace": "nova-backend",
        "phase": "Progressing",
        "checksum": "6d8f9c1b2a",
        "metadata": {"release_version": "v1.0.0", "baseline_version": "v0.9.0"},
    }
    with Server(create_app(GateService(runner))) as url, httpx.Client(timeout=300) as client:
        ok = client.post(f"{url}/flagger/pre-rollout", json=payload)
        # a version the registry does not have: the same gate decides ROLLBACK, Flagger halts
        missing = client.post(f"{url}/flagger/pre-rollout", json={**payload, "metadata": {"release_version": "v7.7.7"}})
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert body["decision"] == "PROCEED" and body["phase"] == "images" and body["exit_code"] == 0
    record = Path(body["reports_dir"])
    assert record.parent == tmp_path / "nova-backend.feed-service"
    decision = json.loads((record / "decision.json").read_text())
    assert decision["phase"] == "images" and decision["version"] == "v1.0.0"
    assert any(p.suffix == ".html" for p in record.iterdir())
    assert "flagger@nova-backend.feed-service" in (record / decision["evidence_file"]).read_text()
    assert missing.status_code == 412, missing.text
    assert missing.json()["decision"] == "ROLLBACK" and missing.json()["blocking"]
