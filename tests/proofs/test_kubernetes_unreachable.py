"""The Kubernetes items fail closed, quickly, when the API server does not answer."""

from __future__ import annotations

import time

import yaml

from nova_gate.catalog import load_catalog

KUBE_ITEMS = [i.id for i in load_catalog() if i.automated and i.backends == ("kubernetes",)]


def test_kubernetes_items_fail_when_api_server_unreachable(gate_run, env_file, tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "closed", "cluster": {"server": "https://127.0.0.1:9"}}],
                "users": [{"name": "u", "user": {"token": "not-a-real-token"}}],
                "contexts": [{"name": "closed", "context": {"cluster": "closed", "user": "u"}}],
                "current-context": "closed",
            }
        )
    )
    env = env_file({"backends.kubernetes.kubeconfig": str(kubeconfig), "backends.kubernetes.timeout_s": 2})
    assert len(KUBE_ITEMS) >= 14, KUBE_ITEMS
    started = time.monotonic()
    run = gate_run(KUBE_ITEMS, env_file=env, timeout=300)
    elapsed = time.monotonic() - started
    labels = run.labels()
    assert set(labels) == set(KUBE_ITEMS), run.explain()
    assert set(labels.values()) == {"FAIL"}, run.explain()
    reasons = " ".join(r for rs in run.decision["reasons"].values() for r in rs)
    assert "kubernetes" in reasons and "not-a-real-token" not in run.output
    assert "Traceback" not in run.output
    assert elapsed < 120, f"took {elapsed:.0f}s"
    print(f"{len(KUBE_ITEMS)} kubernetes items failed closed in {elapsed:.1f}s")
