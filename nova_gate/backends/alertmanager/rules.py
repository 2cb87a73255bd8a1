"""Alertmanager verdicts: paging is wired (PRE-MON-3), no critical alert firing (PD-3, MON-2)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from nova_gate.verdict import Verdict, failed, passed

PAGING_CONFIGS = ("pagerduty_configs", "slack_configs")


def _routes(route: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield route
    for child in route.get("routes") or []:
        if isinstance(child, Mapping):
            yield from _routes(child)


def paging_receivers(config: Mapping[str, Any]) -> dict[str, list[str]]:
    """Receivers reachable from the route tree → which of pagerduty/slack they configure."""
    root = config.get("route")
    if not isinstance(root, Mapping):
        return {}
    reached = [str(r["receiver"]) for r in _routes(root) if r.get("receiver")]
    receivers = {str(r.get("name")): r for r in config.get("receivers") or [] if isinstance(r, Mapping)}
    out: dict[str, list[str]] = {}
    for name in dict.fromkeys(reached):
        rec = receivers.get(name, {})
        out[name] = [kind for kind in PAGING_CONFIGS if rec.get(kind)]
    return out


def paging_configured(config: Mapping[str, Any]) -> Verdict:
    """PRE-MON-3: the route tree reaches at least one receiver with PagerDuty or Slack configs."""
    reached = paging_receivers(config)
    expected = "a routed receiver with pagerduty_configs or slack_configs"
    if not reached:
        return failed("Alertmanager config has no route tree with receivers", reached, expected)
    paging = {name: kinds for name, kinds in reached.items() if kinds}
    if not paging:
        return failed(
            f"no routed receiver pages: {', '.join(reached)} have no PagerDuty/Slack configs",
            reached,
            expected,
        )
    names = ", ".join(f"{n} ({'+'.join(k)})" for n, k in paging.items())
    return passed(f"route tree reaches {names}", reached, expected)


def _state(alert: Mapping[str, Any]) -> Mapping[str, Any]:
    status = alert.get("status")
    return status if isinstance(status, Mapping) else {}


def no_critical_alerts(alerts: Sequence[Mapping[str, Any]], severities: Sequence[str]) -> Verdict:
    """PD-3/MON-2: no active, non-silenced alert carries a critical severity label."""
    wanted = {s.lower() for s in severities}
    expected = f"no active, unsilenced alert with severity in {sorted(wanted)}"
    if not wanted:
        return failed("expectations.critical_severities is empty; nothing would count as critical", None, expected)
    firing = []
    silenced = []
    for alert in alerts:
        labels = alert.get("labels") if isinstance(alert.get("labels"), Mapping) else {}
        assert isinstance(labels, Mapping)
        if str(labels.get("severity", "")).lower() not in wanted:
            continue
        status = _state(alert)
        summary = f"{labels.get('alertname', '?')}{{service={labels.get('service', '-')}}}"
        if status.get("state", "active") not in ("active", "unprocessed", "suppressed"):
            continue  # resolved
        if status.get("silencedBy"):  # inhibited but not silenced still counts: it is firing
            silenced.append(summary)
        else:
            firing.append(summary)
    observed = {"critical_firing": firing, "critical_silenced": silenced, "alerts_seen": len(alerts)}
    if firing:
        return failed(f"{len(firing)} critical alert(s) firing: {', '.join(firing)}", observed, expected)
    note = f" ({len(silenced)} silenced)" if silenced else ""
    return passed(f"no critical alert firing among {len(alerts)} active alert(s){note}", observed, expected)
