"""Verdicts over any secrets store's facts (Vault, AWS Secrets Manager): required secrets exist and
were updated within the release window (PRE-CFG-2), and a store that rotates them is not behind.

The facts are ``nova_gate.backends.secret_store.SecretFacts`` (a plain ``datetime | None`` per name
is accepted too: "exists, updated then" or "absent").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from nova_gate.backends.secret_store import SecretFacts
from nova_gate.verdict import Verdict, failed, inconclusive, passed

#: how late an automatic rotation may be before it counts as overdue (AWS rotates within its window)
ROTATION_GRACE = dt.timedelta(days=1)


def _facts(name: str, value: SecretFacts | dt.datetime | None) -> SecretFacts:
    if isinstance(value, SecretFacts):
        return value
    return SecretFacts(name, exists=value is not None, updated=value)


def _age(now: dt.datetime, then: dt.datetime) -> str:
    days = (now - then) / dt.timedelta(days=1)
    return f"{days:.0f} d" if days >= 1 else f"{days * 24:.0f} h"


def secrets_current(
    secrets: Mapping[str, SecretFacts | dt.datetime | None], max_age: dt.timedelta, now: dt.datetime
) -> Verdict:
    """Every required secret exists, is usable, was updated within ``max_age`` (the release window),
    and, where the store rotates it, its rotation is neither overdue nor left half done."""
    if not secrets:
        return inconclusive("no required secrets configured (expectations.required_secrets)")
    facts = {name: _facts(name, value) for name, value in secrets.items()}
    problems: dict[str, list[str]] = {}

    def add(kind: str, what: str) -> None:
        problems.setdefault(kind, []).append(what)

    for name, f in facts.items():
        if not f.exists:
            add("missing", name)
            continue
        if f.deletion_date is not None:
            add("scheduled for deletion", f"{name} (at {f.deletion_date.isoformat()})")
            continue
        if not f.has_current:
            add("without a current value", name)
        if f.updated is None:
            add("without an update time", name)
        elif now - f.updated > max_age:
            add("not rotated", f"{name} ({_age(now, f.updated)})")
        if f.rotation_enabled and f.rotation_due is not None and now - f.rotation_due > ROTATION_GRACE:
            add("rotation overdue", f"{name} (due {_age(now, f.rotation_due)} ago)")
        if f.rotation_pending:
            add("rotation unfinished (AWSPENDING not current)", name)
    observed = {
        name: {
            "exists": f.exists,
            "updated": f.updated.isoformat() if f.updated else None,
            **({"deletion_date": f.deletion_date.isoformat()} if f.deletion_date else {}),
            **({"has_current": False} if not f.has_current else {}),
            **({"rotation_due": f.rotation_due.isoformat() if f.rotation_due else None} if f.rotation_enabled else {}),
            **({"rotation_pending": True} if f.rotation_pending else {}),
        }
        for name, f in facts.items()
    }
    window = max_age / dt.timedelta(days=1)
    expected = f"every secret present, updated within {window:g} days, rotation on schedule"
    if problems:
        reason = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in problems.items())
        return failed(f"secrets {reason}", observed=observed, expected=expected)
    return passed(f"{len(facts)} secrets present and current", observed=observed, expected=expected)
