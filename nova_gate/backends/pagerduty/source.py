"""PagerDuty's REST API v2: ``GET /oncalls`` for the release window (httpx, timeouts, paginated).

    GET /oncalls?escalation_policy_ids[]=P1&since=...&until=...&limit=100&offset=0
    Authorization: Token token=<read-only REST API key>
    Accept: application/vnd.pagerduty+json;version=2

Classic pagination: ``offset``/``limit`` and ``more``; every page is read (bounded by ``MAX_PAGES``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from nova_gate.backends.base import SourceError
from nova_gate.backends.http_api import HttpApiSource
from nova_gate.backends.pagerduty.config import PagerDuty
from nova_gate.backends.pagerduty.facts import OnCall, OnCallWindow

ACCEPT = "application/vnd.pagerduty+json;version=2"
PAGE = 100  # PagerDuty's largest page
MAX_PAGES = 50


def _time(value: Any, what: str) -> dt.datetime | None:
    if value in (None, ""):
        return None
    try:
        stamp = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise SourceError("pagerduty", what, f"not a time: {str(value)[:40]}") from exc
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


class PagerDutySource(HttpApiSource):
    backend = "pagerduty"

    def __init__(self, cfg: PagerDuty, client: httpx.Client | None = None) -> None:
        def options() -> dict[str, Any]:
            from nova_gate.auth import httpx_options, read_secret

            out = httpx_options(None, cfg.tls, cfg.url)
            token = read_secret(cfg.token, cfg.token_file)
            if token:
                out["headers"] = {**out["headers"], "Authorization": f"Token token={token}"}
            return out

        super().__init__(cfg.url, timeout_s=cfg.timeout_s, client=client, options=options)
        self.level = cfg.escalation_level

    def error_detail(self, response: httpx.Response) -> str:
        """PagerDuty's error body: ``{"error": {"message": ..., "code": ..., "errors": [...]}}``."""
        try:
            error = response.json().get("error") or {}
            detail = "; ".join(str(e) for e in error.get("errors") or [])
            return " ".join(f"{error.get('message', '')} (code {error.get('code')}) {detail}".split())[:200]
        except (ValueError, AttributeError):
            return super().error_detail(response)

    def probe(self) -> None:
        """The fail-fast probe (``nova_gate.probe``): one on-call, the cheapest read the key may do."""
        self.get_json("/oncalls", what="probe GET /oncalls", params={"limit": "1"}, headers={"Accept": ACCEPT})

    def oncalls(self, policies: list[str], since: dt.datetime, until: dt.datetime) -> OnCallWindow:
        """Every on-call entry of ``policies`` that overlaps [since, until], all pages read."""
        found: list[OnCall] = []
        offset = 0
        for _ in range(MAX_PAGES):
            what = f"GET /oncalls (offset {offset})"
            params = httpx.QueryParams(
                [
                    *(("escalation_policy_ids[]", p) for p in policies),
                    ("since", _iso(since)),
                    ("until", _iso(until)),
                    ("limit", str(PAGE)),
                    ("offset", str(offset)),
                ]
            )
            # the API version is part of the request (an injected client keeps it too)
            answer = self.get_json("/oncalls", what=what, params=params, headers={"Accept": ACCEPT})
            if not isinstance(answer, dict) or not isinstance(answer.get("oncalls"), list):
                raise SourceError(self.backend, what, "answer without an oncalls list")
            page = answer["oncalls"]
            found += [self._entry(e, what) for e in page]
            if not answer.get("more"):
                break
            if not page:
                raise SourceError(self.backend, what, "more=true on an empty page")
            offset += len(page)
        else:
            raise SourceError(self.backend, "GET /oncalls", f"more than {MAX_PAGES} pages of on-calls")
        return OnCallWindow(since, until, tuple(policies), tuple(found), self.level)

    @staticmethod
    def _entry(entry: Any, what: str) -> OnCall:
        if not isinstance(entry, dict):
            raise SourceError("pagerduty", what, "an on-call entry that is not an object")
        policy = entry.get("escalation_policy") or {}
        user = entry.get("user") or {}
        schedule = entry.get("schedule") or {}
        try:
            level = int(entry.get("escalation_level") or 0)
        except (TypeError, ValueError) as exc:
            raise SourceError("pagerduty", what, "escalation_level is not a number") from exc
        return OnCall(
            escalation_policy=str(policy.get("id") or ""),
            level=level,
            user=str(user.get("summary") or user.get("id") or ""),
            start=_time(entry.get("start"), what),
            end=_time(entry.get("end"), what),
            schedule=str(schedule["id"]) if schedule.get("id") else None,
        )
