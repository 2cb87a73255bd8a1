"""Preflight items read from SaaS APIs: Grafana dashboards, secrets in Vault or AWS Secrets Manager,
PagerDuty's on-calls, S3 buckets."""

import datetime as dt

import pytest

from nova_gate.backends.grafana import rules as grafana_rules
from nova_gate.backends.pagerduty import rules as pagerduty_rules
from nova_gate.backends.s3 import rules as s3_rules
from nova_gate.rules import secrets


@pytest.mark.item("PRE-MON-2")
def test_dashboards_accessible(grafana, env, gate):
    found = grafana.dashboards(env.expectations.dashboards)
    gate.evidence(source="grafana", request="GET /api/dashboards/uid/<uid>", dashboards=found)
    gate.judge(grafana_rules.dashboards_resolve(found))


def _secrets_current(store, env, gate, request: str) -> None:  # type: ignore[no-untyped-def]
    found = store.secrets(env.expectations.required_secrets)
    gate.evidence(source=store.backend, request=request, secrets=found)
    window = dt.timedelta(days=env.thresholds.secret_rotation_window_d)
    gate.judge(secrets.secrets_current(found, window, dt.datetime.now(dt.UTC)))


# PRE-CFG-2 names either store: each check runs where its backend is configured (both where both are)
@pytest.mark.item("PRE-CFG-2")
@pytest.mark.when_configured("vault")
def test_secrets_updated(vault, env, gate):
    _secrets_current(vault, env, gate, "GET /v1/<mount>/metadata/<path>")


@pytest.mark.item("PRE-CFG-2")
@pytest.mark.when_configured("secretsmanager")
def test_secrets_manager_updated(secretsmanager, env, gate):
    _secrets_current(secretsmanager, env, gate, "DescribeSecret <name> (metadata, no values)")


@pytest.mark.item("PRE-MON-5")
@pytest.mark.when_configured("pagerduty")
def test_on_call_for_release_window(pagerduty, env, gate):
    since = dt.datetime.now(dt.UTC)
    until = since + dt.timedelta(hours=env.thresholds.oncall_window_h)
    window = pagerduty.oncalls(env.expectations.escalation_policies, since, until)
    gate.evidence(
        source="pagerduty",
        request="GET /oncalls?escalation_policy_ids[]=...&since=...&until=... (all pages)",
        oncalls=window.oncalls,
    )
    gate.judge(pagerduty_rules.on_call_covered(window))


@pytest.mark.item("PRE-CFG-4")
def test_s3_bucket_permissions(s3, env, gate):
    buckets = [s3.bucket(name) for name in env.expectations.s3_buckets]
    gate.evidence(
        source="s3",
        requests="HEAD bucket, GET ?publicAccessBlock, GET ?policy (SigV4)",
        buckets=[b.name for b in buckets],
    )
    gate.judge(s3_rules.buckets_secure(buckets, env.expectations.s3_principal))
