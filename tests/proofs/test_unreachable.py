"""Fail closed: with every backend unreachable or unauthorised, no probe passes and nothing hangs."""

from __future__ import annotations

import time

from nova_gate.catalog import load_catalog

CLOSED = "127.0.0.1:9"  # discard port: nothing listens there in the sandbox
PROBES = [i.id for i in load_catalog() if i.automated and i.verification == "probe"]


def test_every_probe_fails_when_its_backend_is_unreachable(gate_run, env_file):
    env = env_file(
        {
            "release.base_url": "http://127.0.0.1:9",
            "backends.postgres.port": 9,
            "backends.postgres.replicas": [{"name": "r", "host": "127.0.0.1", "port": 9}],
            "backends.postgres_staging.port": 9,
            "backends.postgres.backup_catalog": "/nonexistent/backup.json",
            "backends.redis.url": f"redis://{CLOSED}/0",
            "backends.redis.cluster_nodes": [CLOSED],
            "backends.clickhouse.port": 9,
            "backends.kafka.bootstrap_servers": [CLOSED],
            "backends.search.url": f"http://{CLOSED}",
            "backends.prometheus.url": f"http://{CLOSED}",
            "backends.alertmanager.url": f"http://{CLOSED}",
            "backends.registry.url": f"http://{CLOSED}",
            "backends.grafana.url": f"http://{CLOSED}",
            "backends.s3.endpoint": f"http://{CLOSED}",
            "backends.vault.url": f"http://{CLOSED}",
            "backends.jwks.url": f"http://{CLOSED}/jwks",
            "backends.kubernetes.kubeconfig": "/nonexistent/kubeconfig",
        }
    )
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
