"""The shared secrets rule (PRE-CFG-2) on hand-built facts: any store (Vault's KV v2 metadata, AWS
Secrets Manager's DescribeSecret), each way a secret can be unusable or behind, and random estates."""

from __future__ import annotations

import datetime as dt
import random

from nova_gate.backends.secret_store import SecretFacts
from nova_gate.rules.secrets import ROTATION_GRACE, secrets_current
from nova_gate.verdict import Label

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
WINDOW = dt.timedelta(days=30)


def fresh(name: str, **kw: object) -> SecretFacts:
    return SecretFacts(name, exists=True, updated=NOW - dt.timedelta(days=2), **kw)  # type: ignore[arg-type]


def test_nothing_required_is_inconclusive() -> None:
    assert secrets_current({}, WINDOW, NOW).label is Label.INCONCLUSIVE


def test_healthy_secrets_pass_and_name_no_value() -> None:
    facts = {n: fresh(n) for n in ("a/db", "a/redis")}
    verdict = secrets_current(facts, WINDOW, NOW)
    assert verdict.label is Label.PASS and "2 secrets" in verdict.reason


def test_each_problem_fails_naming_the_secret() -> None:
    cases = {
        "missing": SecretFacts("x", exists=False),
        "scheduled for deletion": fresh("x", deletion_date=NOW + dt.timedelta(days=7)),
        "without a current value": fresh("x", has_current=False),
        "without an update time": SecretFacts("x", exists=True, updated=None),
        "not rotated": SecretFacts("x", exists=True, updated=NOW - dt.timedelta(days=31)),
        "rotation overdue": fresh("x", rotation_enabled=True, rotation_due=NOW - ROTATION_GRACE * 2),
        "rotation unfinished": fresh("x", rotation_pending=True),
    }
    for kind, bad in cases.items():
        verdict = secrets_current({"ok": fresh("ok"), "x": bad}, WINDOW, NOW)
        assert verdict.label is Label.FAIL, kind
        assert kind in verdict.reason and "x" in verdict.reason and "ok" not in verdict.reason.split(": ", 1)[1]


def test_rotation_within_grace_or_disabled_passes() -> None:
    late = NOW - ROTATION_GRACE / 2
    assert secrets_current({"x": fresh("x", rotation_enabled=True, rotation_due=late)}, WINDOW, NOW).label is Label.PASS
    stale_due = NOW - dt.timedelta(days=10)
    off = fresh("x", rotation_enabled=False, rotation_due=stale_due)
    assert secrets_current({"x": off}, WINDOW, NOW).label is Label.PASS


def test_the_window_edge() -> None:
    at_edge = SecretFacts("x", exists=True, updated=NOW - WINDOW)
    just_past = SecretFacts("x", exists=True, updated=NOW - WINDOW - dt.timedelta(seconds=1))
    assert secrets_current({"x": at_edge}, WINDOW, NOW).label is Label.PASS
    assert secrets_current({"x": just_past}, WINDOW, NOW).label is Label.FAIL


def test_plain_times_are_vault_facts() -> None:
    verdict = secrets_current({"a": NOW - dt.timedelta(days=1), "b": None}, WINDOW, NOW)
    assert verdict.label is Label.FAIL and verdict.reason == "secrets missing: b"


def test_random_estates_fail_exactly_when_one_secret_is_bad() -> None:
    rng = random.Random(11)
    for _ in range(500):
        n = rng.randint(1, 8)
        facts, bad = {}, set()
        for i in range(n):
            name = f"nova/prod/s{i}"
            age = dt.timedelta(hours=rng.uniform(0, 24 * 60))
            due = NOW + dt.timedelta(hours=rng.uniform(-24 * 5, 24 * 30))
            f = SecretFacts(
                name,
                exists=rng.random() > 0.1,
                updated=NOW - age,
                deletion_date=NOW if rng.random() < 0.05 else None,
                rotation_enabled=rng.random() < 0.5,
                rotation_due=due,
                rotation_pending=rng.random() < 0.05,
            )
            facts[name] = f
            if (
                not f.exists
                or f.deletion_date is not None
                or age > WINDOW
                or (f.rotation_enabled and NOW - due > ROTATION_GRACE)
                or f.rotation_pending
            ):
                bad.add(name)
        verdict = secrets_current(facts, WINDOW, NOW)
        assert (verdict.label is Label.FAIL) == bool(bad)
        for name in bad:
            assert name in verdict.reason
