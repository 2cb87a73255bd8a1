"""PagerDuty on-call facts: who is on call for an escalation policy, from when until when."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class OnCall:
    """One entry of ``GET /oncalls``: ``start``/``end`` None is PagerDuty's "permanently on call"
    (an escalation rule that targets a user directly, not a schedule)."""

    escalation_policy: str  # its id
    level: int
    user: str  # the user's summary (name), or id
    start: dt.datetime | None
    end: dt.datetime | None
    schedule: str | None = None


@dataclass(frozen=True)
class OnCallWindow:
    """The on-calls PagerDuty lists for the required escalation policies over [since, until]."""

    since: dt.datetime
    until: dt.datetime
    policies: tuple[str, ...]
    oncalls: tuple[OnCall, ...]
    level: int = 1
