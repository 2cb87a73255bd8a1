"""Alertmanager rules on hand-built configs and alerts (PRE-MON-3, PD-3, MON-2); closed port."""

from __future__ import annotations

import time
from typing import Any

import pytest

from nova_gate.backends.alertmanager.config import Alertmanager
from nova_gate.backends.alertmanager.rules import no_critical_alerts, paging_configured, paging_receivers
from nova_gate.backends.alertmanager.source import AlertmanagerSource
from nova_gate.backends.base import SourceError
from nova_gate.testing import free_port
from nova_gate.verdict import Label

CONFIG: dict[str, Any] = {
    "route": {"receiver": "default", "routes": [{"receiver": "pd", "matchers": ['severity="critical"']}]},
    "receivers": [
        {"name": "default", "webhook_configs": [{"url": "http://x"}]},
        {"name": "pd", "pagerduty_configs": [{"routing_key": "k"}]},
        {"name": "unused-slack", "slack_configs": [{"api_url": "http://s"}]},
    ],
}


def alert(severity: str, state: str = "active", silenced: bool = False) -> dict[str, Any]:
    return {
        "labels": {"alertname": "A", "severity": severity, "service": "feed-service"},
        "status": {"state": state, "silencedBy": ["s"] if silenced else [], "inhibitedBy": []},
    }


def test_paging_reached_through_a_child_route() -> None:
    assert paging_receivers(CONFIG) == {"default": [], "pd": ["pagerduty_configs"]}
    assert paging_configured(CONFIG).label is Label.PASS


def test_paging_receiver_that_is_not_routed_does_not_count() -> None:
    config = {**CONFIG, "route": {"receiver": "default"}}
    assert paging_configured(config).label is Label.FAIL


def test_no_route_fails() -> None:
    assert paging_configured({"receivers": CONFIG["receivers"]}).label is Label.FAIL


@pytest.mark.parametrize(
    ("alerts", "label"),
    [
        ([], Label.PASS),
        ([alert("warning")], Label.PASS),
        ([alert("critical", silenced=True, state="suppressed")], Label.PASS),
        ([alert("critical")], Label.FAIL),
        ([alert("CRITICAL")], Label.FAIL),
        ([alert("critical", state="suppressed")], Label.FAIL),  # inhibited, not silenced
        ([alert("warning"), alert("critical")], Label.FAIL),
    ],
)
def test_no_critical_alerts(alerts: list[dict[str, Any]], label: Label) -> None:
    assert no_critical_alerts(alerts, ["critical"]).label is label


def test_empty_severity_list_never_passes() -> None:
    assert no_critical_alerts([alert("critical")], []).label is Label.FAIL


def test_unreachable_alertmanager_is_a_source_error_in_bounded_time() -> None:
    src = AlertmanagerSource(Alertmanager(url=f"http://127.0.0.1:{free_port()}", timeout_s=1))
    started = time.monotonic()
    with pytest.raises(SourceError, match="alertmanager"):
        src.alerts()
    with pytest.raises(SourceError):
        src.config()
    assert time.monotonic() - started < 10
    src.close()
