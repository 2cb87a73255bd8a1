"""Verdicts over PagerDuty's on-calls: someone is on call, at the required escalation level, for the
whole release window, in every required escalation policy (PRE-MON-5)."""

from __future__ import annotations

import datetime as dt

from nova_gate.backends.pagerduty.facts import OnCall, OnCallWindow
from nova_gate.verdict import Verdict, failed, inconclusive, passed


def gaps(oncalls: list[OnCall], since: dt.datetime, until: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    """The stretches of [since, until) that no entry covers (None start/end: permanently on call)."""
    spans = sorted(
        (max(o.start or since, since), min(o.end or until, until))
        for o in oncalls
        if (o.start or since) < until and (o.end or until) > since
    )
    out: list[tuple[dt.datetime, dt.datetime]] = []
    cursor = since
    for start, end in spans:
        if start > cursor:
            out.append((cursor, start))
        cursor = max(cursor, end)
    if cursor < until:
        out.append((cursor, until))
    return out


def _when(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def on_call_covered(window: OnCallWindow) -> Verdict:
    """PRE-MON-5: for every required escalation policy, the on-calls at ``window.level`` cover
    [since, until] without a gap; names who is on call now."""
    if not window.policies:
        return inconclusive("no escalation policies configured (expectations.escalation_policies)")
    if window.until <= window.since:
        return inconclusive("empty release window")
    problems: list[str] = []
    now_by_policy: dict[str, list[str]] = {}
    observed: dict[str, dict[str, list[str] | int]] = {}
    for policy in window.policies:
        entries = [o for o in window.oncalls if o.escalation_policy == policy and o.level == window.level]
        holes = gaps(entries, window.since, window.until)
        now = [o.user for o in entries if (o.start or window.since) <= window.since < (o.end or window.until)]
        now_by_policy[policy] = sorted(set(now))
        observed[policy] = {
            "on_call_now": now_by_policy[policy],
            "entries": len(entries),
            "gaps": [f"{_when(a)} - {_when(b)}" for a, b in holes],
        }
        if not entries:
            problems.append(f"{policy}: nobody on call at level {window.level}")
        elif holes:
            hours = sum((b - a for a, b in holes), dt.timedelta()) / dt.timedelta(hours=1)
            first = holes[0]
            problems.append(
                f"{policy}: nobody on call at level {window.level} for {hours:.1f} h of the window "
                f"(first gap {_when(first[0])} - {_when(first[1])})"
            )
    expected = f"level {window.level} covered from {_when(window.since)} to {_when(window.until)}"
    if problems:
        return failed("; ".join(problems), observed=observed, expected=expected)
    who = ", ".join(f"{p}: {', '.join(now_by_policy[p]) or '?'}" for p in window.policies)
    return passed(f"on call for the whole release window ({who})", observed=observed, expected=expected)
