"""Verdicts over Grafana facts: the configured dashboards resolve (PRE-MON-2)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nova_gate.verdict import Verdict, failed, inconclusive, passed


def dashboards_resolve(found: Mapping[str, Mapping[str, Any] | None]) -> Verdict:
    """Every configured dashboard exists and has panels."""
    if not found:
        return inconclusive("no dashboards configured (expectations.dashboards)")
    missing = [uid for uid, d in found.items() if d is None]
    empty = [uid for uid, d in found.items() if d is not None and not d.get("panels")]
    if missing or empty:
        parts = ([f"missing: {', '.join(missing)}"] if missing else []) + (
            [f"without panels: {', '.join(empty)}"] if empty else []
        )
        return failed(f"dashboards {'; '.join(parts)}", observed=dict(found), expected=sorted(found))
    return passed(f"{len(found)} dashboards resolve", observed=dict(found), expected=sorted(found))
