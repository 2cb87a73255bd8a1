"""A local stand-in for PagerDuty's REST API v2 on-calls, shaped after its documented responses.

    GET /oncalls?escalation_policy_ids[]=P..&since=ISO&until=ISO&limit=25&offset=0[&total=true]
    Authorization: Token token=<REST API key>
    Accept: application/vnd.pagerduty+json;version=2

Answers ``{"oncalls": [...], "limit", "offset", "more", "total"}``; an entry is
``{"escalation_policy": {...reference}, "escalation_level", "schedule": {...reference} | null,
"user": {...reference}, "start", "end"}`` with ``start``/``end`` null for a permanent on-call (an
escalation rule that targets a user, not a schedule). Errors as PagerDuty's:
``{"error": {"message", "code", "errors": [...]}}`` — 401 code 2006 without a valid key, 400 code
2001 for bad input (since after until, a range over 3 months, limit over 100), 406 for another API
version. HTTPS with the sandbox CA. The read-only key may only GET; ``POST /admin`` with the admin
key changes the schedules (the sandbox's faults). State in a JSON file (faults survive a restart).

    python -m nova_gate.sandbox.pagerduty_server STATE.json --port 58203 --tls-cert C --tls-key K
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from nova_gate.sandbox.json_http import JsonHandler, JsonState, TlsServer

READ_TOKEN = "sandbox-pagerduty-ro"  # a read-only REST API key
ADMIN_TOKEN = "sandbox-pagerduty-admin"
ACCEPT_V2 = "application/vnd.pagerduty+json;version=2"
API = "https://api.pagerduty.com"
SHIFT_H = 12
#: escalation policy id -> (name, the schedule's id, its rotation of users, the level-2 manager)
POLICIES: dict[str, tuple[str, str, tuple[str, ...], str]] = {
    "PNOVA01": ("Nova backend", "PSCHED1", ("Jane Doe", "Ravi Patel", "Mei Lin"), "Release Manager"),
    "PNOVA02": ("Nova database", "PSCHED2", ("Ola Berg", "Sam Okafor"), "Release Manager"),
}


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _ref(kind: str, ident: str, summary: str) -> dict[str, Any]:
    plural = "escalation_policies" if kind == "escalation_policy" else f"{kind}s"
    return {
        "id": ident,
        "type": f"{kind}_reference",
        "summary": summary,
        "self": f"{API}/{plural}/{ident}",
        "html_url": f"https://nova.pagerduty.com/{plural}/{ident}",
    }


def initial_state(now: dt.datetime) -> dict[str, Any]:
    """The schedules' rotation anchor (12-hour shifts, endless) and no changes to them."""
    anchor = now.replace(minute=0, second=0, microsecond=0)
    return {"anchor": _iso(anchor), "cleared": [], "gaps": []}


def _parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def shifts(data: dict[str, Any], since: dt.datetime, until: dt.datetime) -> list[dict[str, Any]]:
    """The level-1 shifts of every policy that overlap [since, until] (its rotation, minus the
    faults' gaps), and the permanent level-2 manager of each."""
    anchor = _parse(data["anchor"])
    step = dt.timedelta(hours=SHIFT_H)
    first = (since - anchor) // step
    out: list[dict[str, Any]] = []
    for policy, (_, schedule, users, manager) in POLICIES.items():
        if policy not in data["cleared"]:
            n = first
            while anchor + n * step < until or n == first:
                begin, end = anchor + n * step, anchor + (n + 1) * step
                pieces = [(begin, end)]
                for gp, lo, hi in data["gaps"]:
                    if gp != policy:
                        continue
                    lo_t, hi_t = _parse(lo), _parse(hi)
                    pieces = [
                        part for a, b in pieces for part in ((a, min(b, lo_t)), (max(a, hi_t), b)) if part[0] < part[1]
                    ]
                for a, b in pieces:
                    out.append(
                        {
                            "policy": policy,
                            "level": 1,
                            "schedule": schedule,
                            "user": users[n % len(users)],
                            "start": _iso(a),
                            "end": _iso(b),
                        }
                    )
                n += 1
        out.append({"policy": policy, "level": 2, "schedule": None, "user": manager, "start": None, "end": None})
    return out


def _user_id(name: str) -> str:
    return "PU" + "".join(w[0] for w in name.split()).upper() + str(len(name))


def entry(shift: dict[str, Any]) -> dict[str, Any]:
    name, _, _, _ = POLICIES[shift["policy"]]
    schedule = shift["schedule"]
    return {
        "escalation_policy": _ref("escalation_policy", shift["policy"], name),
        "escalation_level": shift["level"],
        "schedule": _ref("schedule", schedule, f"{name} primary") if schedule else None,
        "user": _ref("user", _user_id(shift["user"]), shift["user"]),
        "start": shift["start"],
        "end": shift["end"],
    }


class State(JsonState):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        if not path.exists():
            self.save(initial_state(dt.datetime.now(dt.UTC)))


class BadInput(Exception):
    pass


def _time(query: dict[str, list[str]], key: str, default: dt.datetime) -> dt.datetime:
    raw = (query.get(key) or [""])[0]
    if not raw:
        return default
    try:
        t = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(f"{key.capitalize()} is not a valid date") from None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def oncalls(data: dict[str, Any], query: dict[str, list[str]], now: dt.datetime) -> dict[str, Any]:
    since, until = _time(query, "since", now), _time(query, "until", now)
    if since > until:
        raise BadInput("Since must be before until")
    if until - since > dt.timedelta(days=90):
        raise BadInput("The date range must be less than 3 months")
    try:
        limit = int((query.get("limit") or ["25"])[0])
        offset = int((query.get("offset") or ["0"])[0])
    except ValueError:
        raise BadInput("Limit and offset must be integers") from None
    if not 1 <= limit <= 100 or offset < 0:
        raise BadInput("Limit must be between 1 and 100, offset not negative")
    policies = set(query.get("escalation_policy_ids[]", []))
    levels = {int(v) for v in query.get("escalation_levels[]", []) if v.isdigit()}
    found = []
    for s in shifts(data, since, until):
        if (policies and s["policy"] not in policies) or (levels and s["level"] not in levels):
            continue
        start = _parse(s["start"]) if s["start"] else None
        end = _parse(s["end"]) if s["end"] else None
        if (start is None or start < until) and (end is None or end > since):
            found.append(s)
    found.sort(key=lambda s: (s["policy"], s["level"], s["start"] or ""))
    page = found[offset : offset + limit]
    total = len(found) if (query.get("total") or [""])[0] == "true" else None
    return {
        "oncalls": [entry(s) for s in page],
        "limit": limit,
        "offset": offset,
        "more": offset + len(page) < len(found),
        "total": total,
    }


def handler(state: State) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        server_version = "nova-sandbox-pagerduty"
        content_type = "application/json; charset=utf-8"

        def error(self, status: int, code: int, message: str, errors: list[str] | None = None) -> None:
            body: dict[str, Any] = {"message": message, "code": code}
            if errors:
                body["errors"] = errors
            self.reply(status, {"error": body})

        def token(self) -> str:
            value = self.headers.get("Authorization") or ""
            return value[len("Token token=") :] if value.startswith("Token token=") else ""

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/healthz":  # the sandbox's own health probe (no data)
                return self.reply(200, {"ok": True})
            if self.token() not in (READ_TOKEN, ADMIN_TOKEN):
                return self.error(401, 2006, "Unauthorized")
            accept = self.headers.get("Accept") or ""
            if "version=" in accept and "version=2" not in accept:
                return self.error(406, 2001, "Unsupported API version")
            if url.path != "/oncalls":
                return self.error(404, 2100, "Not Found")
            try:
                return self.reply(200, oncalls(state.load(), parse_qs(url.query), dt.datetime.now(dt.UTC)))
            except BadInput as exc:
                return self.error(400, 2001, "Invalid Input Provided", [str(exc)])

        def do_POST(self) -> None:
            """Admin (faults): {"gap": {policy, from_h, to_h}} / {"clear": policy} / {"reset": true}."""
            if self.token() != ADMIN_TOKEN:
                return self.error(401 if self.token() != READ_TOKEN else 403, 2006, "Unauthorized")
            if urlsplit(self.path).path != "/admin":
                return self.error(404, 2100, "Not Found")
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            now = dt.datetime.now(dt.UTC)
            data = initial_state(now) if body.get("reset") else state.load()
            if "clear" in body:
                data["cleared"] = sorted({*data["cleared"], body["clear"]})
            if "gap" in body:
                gap = body["gap"]
                lo, hi = now + dt.timedelta(hours=gap["from_h"]), now + dt.timedelta(hours=gap["to_h"])
                data["gaps"].append([gap["policy"], _iso(lo), _iso(hi)])
            state.save(data)
            return self.reply(200, data)

        do_PUT = do_DELETE = do_PATCH = do_POST

    return Handler


class Server(TlsServer):
    pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("state", type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=58203)
    parser.add_argument("--tls-cert", type=Path)
    parser.add_argument("--tls-key", type=Path)
    args = parser.parse_args(argv)
    server = Server((args.host, args.port), handler(State(args.state)))
    if args.tls_cert:
        server.use_tls(args.tls_cert, args.tls_key)
    server.serve_forever(poll_interval=0.5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
