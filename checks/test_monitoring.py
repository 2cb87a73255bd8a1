"""Prometheus is scraping every service and its alerts carry runbooks (preflight, stability)."""

import pytest

from nova_gate.backends.prometheus.rules import alerts_have_runbooks, targets_up


@pytest.mark.item("PRE-MON-1")
def test_prometheus_scrapes_all_services(prometheus, env, gate):
    targets = prometheus.targets()
    gate.evidence(source="prometheus", request="GET /api/v1/targets", targets=len(targets))
    gate.judge(targets_up(targets, env.service_names, env.metrics.job))


@pytest.mark.item("MON-1")
def test_every_target_up(prometheus, env, gate):
    targets = prometheus.targets()
    gate.evidence(source="prometheus", request="GET /api/v1/targets", targets=len(targets))
    gate.judge(targets_up(targets, env.service_names, env.metrics.job))


@pytest.mark.item("PRE-MON-4")
def test_alerts_have_runbook_links(prometheus, gate):
    rules = prometheus.rules()
    gate.evidence(source="prometheus", request="GET /api/v1/rules?type=alert", rules=len(rules))
    gate.judge(alerts_have_runbooks(rules))
