"""environments/sandbox-scaled.yaml is generated from sandbox.yaml: it must not go stale (the
gates' identities, TLS and credentials of the locked sandbox are the same in both profiles)."""

from __future__ import annotations

from pathlib import Path

import yaml

from nova_gate.sandbox import scaled

ROOT = Path(__file__).resolve().parents[2]


def test_the_scaled_environment_is_regenerated() -> None:
    fresh = scaled.environment((ROOT / "environments" / "sandbox.yaml").read_text())
    committed = yaml.safe_load((ROOT / "environments" / "sandbox-scaled.yaml").read_text())
    assert committed == fresh, "run `python -m nova_gate.sandbox.scaled env` and commit the result"


def test_the_scaled_profile_reads_with_the_gates_identities() -> None:
    backends = yaml.safe_load((ROOT / "environments" / "sandbox-scaled.yaml").read_text())["backends"]
    assert backends["kubernetes"]["kubeconfig"].endswith("gates.kubeconfig")
    assert backends["kafka"]["security_protocol"] == "SASL_SSL"
    assert backends["prometheus"]["url"].startswith("https://")


def test_parts_brought_up_by_processes_at_once_keep_each_others_state(tmp_path, monkeypatch):
    import multiprocessing

    monkeypatch.setenv("NOVA_GATE_SANDBOX_DIR", str(tmp_path))
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=scaled._update_state, args=(part, {"up_s": i})) for i, part in enumerate(scaled.PARTS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    assert sorted(scaled.status()) == sorted(scaled.PARTS)
    for part in scaled.PARTS:
        scaled._update_state(part, None)
    assert scaled.status() == {} and not (tmp_path / "scaled" / "state.json").exists()
