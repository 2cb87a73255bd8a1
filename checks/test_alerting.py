"""Alertmanager checks: paging wired (PRE-MON-3), no critical alert firing (PD-3, MON-2)."""

from __future__ import annotations

import pytest

from nova_gate.backends.alertmanager import rules as am_rules


@pytest.mark.item("PRE-MON-3")
def test_alertmanager_routes_to_paging(alertmanager, gate):
    config = alertmanager.config()
    reached = am_rules.paging_receivers(config)
    gate.evidence(
        source="alertmanager",
        request="GET /api/v2/status (config.original)",
        observed=reached,
        expected="a routed receiver with pagerduty_configs or slack_configs",
    )
    gate.judge(am_rules.paging_configured(config))


@pytest.mark.item("PD-3", "MON-2")
def test_no_critical_alert_firing(alertmanager, env, gate):
    alerts = alertmanager.alerts()
    severities = env.expectations.critical_severities
    gate.evidence(
        source="alertmanager",
        request="GET /api/v2/alerts?active=true",
        observed=[{"labels": a.get("labels"), "state": (a.get("status") or {}).get("state")} for a in alerts],
        expected=f"no active unsilenced alert with severity in {severities}",
    )
    gate.judge(am_rules.no_critical_alerts(alerts, severities))
