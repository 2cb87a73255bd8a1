"""Monitoring stack verdicts: every service scraped and up; every alert has a runbook."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nova_gate.verdict import Verdict, failed, inconclusive, passed


def targets_up(targets: Sequence[dict[str, Any]], services: Sequence[str], job: str) -> Verdict:
    """PRE-MON-1 / MON-1: each service has at least one target of ``job``, and every one is up."""
    mine = [t for t in targets if (t.get("labels") or {}).get("job") == job]
    by_service: dict[str, list[str]] = {}
    for t in mine:
        service = (t.get("labels") or {}).get("service", "")
        by_service.setdefault(service, []).append(str(t.get("health")))
    observed = {s: by_service.get(s, []) for s in services}
    missing = [s for s in services if s not in by_service]
    down = [
        f"{(t.get('labels') or {}).get('service')} ({t.get('lastError') or t.get('health')})"
        for t in mine
        if t.get("health") != "up"
    ]
    expected = f"every service scraped by job {job!r}, every target up"
    if not mine:
        return inconclusive(f"no targets of job {job!r}", observed=observed, expected=expected)
    if missing or down:
        parts = ([f"not scraped: {', '.join(missing)}"] if missing else []) + (
            [f"down: {', '.join(down)}"] if down else []
        )
        return failed("; ".join(parts), observed=observed, expected=expected)
    return passed(f"{len(mine)} targets of {len(services)} services up", observed=observed, expected=expected)


def alerts_have_runbooks(rules: Sequence[dict[str, Any]]) -> Verdict:
    """PRE-MON-4: every alerting rule carries a runbook_url annotation."""
    alerts = [r for r in rules if r.get("type", "alerting") == "alerting"]
    if not alerts:
        return inconclusive("no alerting rules loaded", expected="alerting rules with runbook_url")
    bare = sorted({str(r.get("name")) for r in alerts if not (r.get("annotations") or {}).get("runbook_url")})
    observed = {"alerting_rules": len(alerts), "without_runbook": bare}
    if bare:
        return failed(
            f"{len(bare)} alerting rule(s) without runbook_url: {', '.join(bare[:8])}",
            observed=observed,
            expected="runbook_url on every alerting rule",
        )
    return passed(
        f"all {len(alerts)} alerting rules have a runbook_url",
        observed=observed,
        expected="runbook_url on every alerting rule",
    )
