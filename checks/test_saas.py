"""Preflight items read from SaaS APIs: Grafana dashboards, secrets in Vault."""

import datetime as dt

import pytest

from nova_gate.backends.grafana import rules as grafana_rules
from nova_gate.backends.s3 import rules as s3_rules
from nova_gate.rules import secrets


@pytest.mark.item("PRE-MON-2")
def test_dashboards_accessible(grafana, env, gate):
    found = grafana.dashboards(env.expectations.dashboards)
    gate.evidence(source="grafana", request="GET /api/dashboards/uid/<uid>", dashboards=found)
    gate.judge(grafana_rules.dashboards_resolve(found))


@pytest.mark.item("PRE-CFG-2")
def test_secrets_updated(vault, env, gate):
    updated = vault.secret_updated(env.expectations.required_secrets)
    gate.evidence(source="vault", request="GET /v1/<mount>/metadata/<path>", secrets=updated)
    gate.judge(
        secrets.secrets_current(
            updated, dt.timedelta(days=env.thresholds.secret_rotation_window_d), dt.datetime.now(dt.UTC)
        )
    )


@pytest.mark.item("PRE-CFG-4")
def test_s3_bucket_permissions(s3, env, gate):
    buckets = [s3.bucket(name) for name in env.expectations.s3_buckets]
    gate.evidence(
        source="s3",
        requests="HEAD bucket, GET ?publicAccessBlock, GET ?policy (SigV4)",
        buckets=[b.name for b in buckets],
    )
    gate.judge(s3_rules.buckets_secure(buckets, env.expectations.s3_principal))
