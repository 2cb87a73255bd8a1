"""Verdicts over any secrets store's facts (Vault, AWS Secrets Manager): required secrets exist and
were updated within the release window (PRE-CFG-2)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from nova_gate.verdict import Verdict, failed, inconclusive, passed


def secrets_current(updated: Mapping[str, dt.datetime | None], max_age: dt.timedelta, now: dt.datetime) -> Verdict:
    """Every required secret exists and was updated within ``max_age`` (the release window)."""
    if not updated:
        return inconclusive("no required secrets configured (expectations.required_secrets)")
    observed = {k: (v.isoformat() if v else None) for k, v in updated.items()}
    missing = [k for k, v in updated.items() if v is None]
    stale = [f"{k} ({(now - v).days} d)" for k, v in updated.items() if v is not None and now - v > max_age]
    expected = f"every secret present, updated within {max_age.days} days"
    if missing or stale:
        parts = ([f"missing: {', '.join(missing)}"] if missing else []) + (
            [f"not rotated: {', '.join(stale)}"] if stale else []
        )
        return failed(f"secrets {'; '.join(parts)}", observed=observed, expected=expected)
    return passed(f"{len(updated)} secrets present and current", observed=observed, expected=expected)
