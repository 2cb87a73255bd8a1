"""Fail closed: with every backend unreachable or unauthorised, no probe passes and nothing hangs."""

from __future__ import annotations

import time
from pathlib import Path

import yaml

from nova_gate.backends import BACKENDS
from nova_gate.catalog import load_catalog
from nova_gate.fixture_factory import unreachable_overrides

ROOT = Path(__file__).resolve().parents[2]
PROBES = [i.id for i in load_catalog() if i.automated and i.verification == "probe"]


def test_the_overrides_cover_every_configured_backend_field():
    """Made from the registry: a new backend's endpoint is closed here without editing this file."""
    doc = yaml.safe_load((ROOT / "environments" / "sandbox.yaml").read_text())
    overrides = unreachable_overrides(doc)
    configured = {fld for b in BACKENDS.values() for fld in b.fields if fld in doc["backends"]}
    assert configured == {key.split(".")[1] for key in overrides}
    assert overrides["backends.kubernetes.kubeconfig"] == "/nonexistent/kubeconfig"
    assert overrides["backends.postgres.replicas"][0]["port"] == 9
    assert overrides["backends.jwks.url"] == "http://127.0.0.1:9/.well-known/jwks.json"


def test_every_probe_fails_when_its_backend_is_unreachable(gate_run, env_file):
    doc = yaml.safe_load((ROOT / "environments" / "sandbox.yaml").read_text())
    env = env_file({"release.base_url": "http://127.0.0.1:9", **unreachable_overrides(doc)})
    started = time.monotonic()
    run = gate_run(PROBES, env_file=env, timeout=600)
    elapsed = time.monotonic() - started
    labels = run.labels()
    passing = sorted(i for i, label in labels.items() if label in ("PASS", "WARN"))
    assert not passing, f"probes that passed with their backend unreachable: {passing}\n{run.explain()}"
    assert set(labels) == set(PROBES)
    assert "Traceback" not in run.output
    print(f"{len(PROBES)} probes failed closed in {elapsed:.1f}s")


def test_wrong_credentials_fail(gate_run, env_file, monkeypatch):
    from nova_gate.sandbox import s3 as sandbox_s3

    monkeypatch.setenv("NOVA_GATE_PG_PASSWORD", "wrong-password")
    monkeypatch.setenv("NOVA_GATE_GRAFANA_TOKEN", "wrong-token")
    monkeypatch.setenv("NOVA_GATE_VAULT_TOKEN", "wrong-token")
    monkeypatch.setenv("NOVA_GATE_S3_SECRET", "wrong-token")
    monkeypatch.setenv("NOVA_GATE_KAFKA_PASSWORD", "wrong-password")
    monkeypatch.setenv("NOVA_GATE_REGISTRY_PASSWORD", "wrong-password")
    s3_key = sandbox_s3.profile_keys(sandbox_s3.GATES)[0]
    s3 = {"backends.s3.access_key_id": s3_key, "backends.s3.secret_access_key": "${NOVA_GATE_S3_SECRET}"}
    run = gate_run(["PST-7", "PRE-MON-2", "PRE-CFG-2", "PRE-CFG-4", "PRE-INF-4", "IMG-1"], env_file=env_file(s3))

    assert set(run.labels().values()) == {"FAIL"}, run.explain()
    reasons = " ".join(r for rs in run.decision["reasons"].values() for r in rs)
    assert "wrong-password" not in reasons and "wrong-token" not in run.output
