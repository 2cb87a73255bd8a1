"""PagerDuty on-calls (PRE-MON-5): the coverage rule on hand-built and random schedules (against a
minute-by-minute count), the source on httpx.MockTransport (auth header, API version, pagination,
errors), and the sandbox's stand-in in-process on an ephemeral port: its faults fail the check."""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from nova_gate.backends.base import SourceError
from nova_gate.backends.pagerduty.config import PagerDuty
from nova_gate.backends.pagerduty.facts import OnCall, OnCallWindow
from nova_gate.backends.pagerduty.rules import gaps, on_call_covered
from nova_gate.backends.pagerduty.source import ACCEPT, PagerDutySource
from nova_gate.sandbox import pagerduty_server as stand_in
from nova_gate.verdict import Label

T0 = dt.datetime(2026, 12, 1, 0, 0, tzinfo=dt.UTC)


def h(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def oc(policy: str, start: float | None, end: float | None, level: int = 1, user: str = "Jane") -> OnCall:
    return OnCall(policy, level, user, None if start is None else h(start), None if end is None else h(end))


def window(oncalls: list[OnCall], policies: tuple[str, ...] = ("P1",), hours: float = 48) -> OnCallWindow:
    return OnCallWindow(T0, h(hours), policies, tuple(oncalls))


# -- the rule -------------------------------------------------------------------------------------
def test_covered_by_shifts_passes_and_names_who_is_on_call() -> None:
    verdict = on_call_covered(window([oc("P1", -3, 12, user="Jane"), oc("P1", 12, 36), oc("P1", 36, 60)]))
    assert verdict.label is Label.PASS and "Jane" in verdict.reason


def test_permanent_on_call_covers_everything() -> None:
    assert on_call_covered(window([oc("P1", None, None)])).label is Label.PASS


def test_a_gap_fails_with_its_length_and_place() -> None:
    verdict = on_call_covered(window([oc("P1", 0, 6), oc("P1", 18, 48)]))
    assert verdict.label is Label.FAIL
    assert "12.0 h" in verdict.reason and "2026-12-01 06:00 UTC - 2026-12-01 18:00 UTC" in verdict.reason


def test_nobody_on_call_and_other_levels_or_policies_do_not_count() -> None:
    verdict = on_call_covered(window([oc("P1", None, None, level=2), oc("P2", None, None)], ("P1", "P2")))
    assert verdict.label is Label.FAIL and "P1: nobody on call at level 1" in verdict.reason
    assert "P2" not in verdict.reason


def test_coverage_ending_early_or_starting_late_fails() -> None:
    assert on_call_covered(window([oc("P1", -5, 47.5)])).label is Label.FAIL
    assert on_call_covered(window([oc("P1", 0.1, 50)])).label is Label.FAIL


def test_no_policies_is_inconclusive() -> None:
    assert on_call_covered(window([], ())).label is Label.INCONCLUSIVE


def test_random_schedules_against_a_minute_count() -> None:
    rng = random.Random(5)
    for _ in range(300):
        hours = rng.choice([6, 24, 48])
        entries = []
        for _ in range(rng.randint(0, 8)):
            start = rng.choice([None, rng.randint(-24, hours + 6) * 60])
            end = rng.choice([None, (start or 0) + rng.randint(1, 30) * 60]) if rng.random() < 0.9 else None
            entries.append(oc("P1", None if start is None else start / 60, None if end is None else end / 60))
        covered = [
            any((e.start or h(-1e4)) <= h(m / 60) < (e.end or h(1e4)) for e in entries) for m in range(hours * 60)
        ]
        holes = gaps(entries, T0, h(hours))
        assert sum((b - a) / dt.timedelta(minutes=1) for a, b in holes) == covered.count(False)
        assert (on_call_covered(window(entries, hours=hours)).label is Label.PASS) == all(covered)


# -- the source on MockTransport ------------------------------------------------------------------
def pd_source(handler: Any, token: str = "ro-key") -> PagerDutySource:
    client = httpx.Client(base_url="https://api.pagerduty.invalid", transport=httpx.MockTransport(handler))
    return PagerDutySource(PagerDuty(url="https://api.pagerduty.invalid", token=SecretStr(token)), client=client)


def test_the_request_and_every_page_are_read() -> None:
    seen: list[httpx.Request] = []
    everything = [stand_in.entry(s) for s in stand_in.shifts(stand_in.initial_state(T0), T0, h(48))]
    everything = [e for e in everything if e["escalation_policy"]["id"] == "PNOVA01"]

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        q = parse_qs(urlsplit(str(request.url)).query)
        offset, limit = int(q["offset"][0]), 2  # the server may give fewer than asked
        page = everything[offset : offset + limit]
        return httpx.Response(
            200, json={"oncalls": page, "limit": limit, "offset": offset, "more": offset + limit < len(everything)}
        )

    found = pd_source(handler).oncalls(["PNOVA01"], T0, h(48))
    assert len(found.oncalls) == len(everything) and len(seen) == -(-len(everything) // 2)
    q = parse_qs(urlsplit(str(seen[0].url)).query)
    assert q["escalation_policy_ids[]"] == ["PNOVA01"] and q["since"] == ["2026-12-01T00:00:00Z"]
    assert seen[0].headers["Accept"] == ACCEPT
    assert on_call_covered(found).label is Label.PASS


def test_the_token_header_when_the_source_makes_its_client() -> None:
    src = PagerDutySource(PagerDuty(url="https://api.pagerduty.invalid", token=SecretStr("ro-key")))
    assert src.http.headers["Authorization"] == "Token token=ro-key"
    src.close()


@pytest.mark.parametrize(
    ("status", "body", "words"),
    [
        (401, {"error": {"message": "Unauthorized", "code": 2006}}, "unauthorised"),
        (403, {"error": {"message": "Forbidden", "code": 2010}}, "unauthorised"),
        (400, {"error": {"message": "Invalid Input Provided", "code": 2001, "errors": ["bad"]}}, "code 2001"),
        (500, {"error": {"message": "boom"}}, "HTTP 500"),
        (200, {"no": "oncalls"}, "without an oncalls list"),
        (200, {"oncalls": [], "more": True}, "empty page"),
        (200, {"oncalls": [{"escalation_policy": {"id": "P"}, "start": "soon"}]}, "not a time"),
    ],
)
def test_errors_are_one_line_source_errors(status: int, body: Any, words: str) -> None:
    with pytest.raises(SourceError) as caught:
        pd_source(lambda r: httpx.Response(status, json=body)).oncalls(["P"], T0, h(1))
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_a_body_that_is_not_json() -> None:
    with pytest.raises(SourceError, match="not JSON"):
        pd_source(lambda r: httpx.Response(200, text="<html>")).oncalls(["P"], T0, h(1))


# -- the stand-in, in-process on an ephemeral port ----------------------------------------------------
@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    srv = stand_in.Server(("127.0.0.1", 0), stand_in.handler(stand_in.State(tmp_path / "state.json")))
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def live(url: str, token: str = stand_in.READ_TOKEN) -> PagerDutySource:
    return PagerDutySource(PagerDuty(url=url, token=SecretStr(token), timeout_s=5))


def admin(url: str, body: dict[str, Any], token: str = stand_in.ADMIN_TOKEN) -> httpx.Response:
    return httpx.post(f"{url}/admin", content=json.dumps(body), headers={"Authorization": f"Token token={token}"})


def test_stand_in_healthy_then_each_fault_fails_and_reset_passes(server: str) -> None:
    now = dt.datetime.now(dt.UTC)
    policies = list(stand_in.POLICIES)
    healthy = on_call_covered(live(server).oncalls(policies, now, now + dt.timedelta(hours=48)))
    assert healthy.label is Label.PASS, healthy.reason
    for body, words in (
        ({"gap": {"policy": "PNOVA01", "from_h": 6, "to_h": 18}}, "PNOVA01: nobody on call at level 1 for 12.0 h"),
        ({"clear": "PNOVA02"}, "PNOVA02: nobody on call at level 1"),
    ):
        assert admin(server, body).status_code == 200
        verdict = on_call_covered(live(server).oncalls(policies, now, now + dt.timedelta(hours=48)))
        assert verdict.label is Label.FAIL and words in verdict.reason, verdict.reason
        assert admin(server, {"reset": True}).status_code == 200
        assert on_call_covered(live(server).oncalls(policies, now, now + dt.timedelta(hours=48))).label is Label.PASS


def test_stand_in_refuses_like_pagerduty(server: str) -> None:
    now = dt.datetime.now(dt.UTC)
    with pytest.raises(SourceError, match="unauthorised"):
        live(server, "wrong").oncalls(["PNOVA01"], now, now + dt.timedelta(hours=1))
    with pytest.raises(SourceError, match="code 2001"):
        live(server).oncalls(["PNOVA01"], now, now - dt.timedelta(hours=1))  # since after until
    assert admin(server, {"reset": True}, token=stand_in.READ_TOKEN).status_code == 403  # the gates' key only reads


# -- a check bound to an optional backend -------------------------------------------------------------
class _Node:
    def __init__(self, items: tuple[str, ...], when: tuple[str, ...] | None) -> None:
        self.marks = [pytest.mark.item(*items).mark] + ([pytest.mark.when_configured(*when).mark] if when else [])

    def iter_markers(self, name: str) -> Iterator[Any]:
        return (m for m in self.marks if m.name == name)

    def get_closest_marker(self, name: str) -> Any:
        return next(self.iter_markers(name), None)


class _Backends:
    def __init__(self, **configured: object) -> None:
        self.__dict__.update(configured)


def test_an_unconfigured_alternative_steps_aside_but_never_leaves_an_item_without_a_test() -> None:
    from nova_gate.plugin import unconfigured_alternatives_removed as keep

    vault, sm = _Node(("PRE-CFG-2",), ("vault",)), _Node(("PRE-CFG-2",), ("secretsmanager",))
    attest, pd = _Node(("PRE-MON-5",), None), _Node(("PRE-MON-5",), ("pagerduty",))
    nodes: list[Any] = [vault, sm, attest, pd]
    assert keep(nodes, _Backends(vault=object())) == [vault, attest]
    assert keep(nodes, _Backends(secretsmanager=object(), pagerduty=object())) == [sm, attest, pd]
    assert keep(nodes, _Backends(vault=object(), secretsmanager=object())) == [vault, sm, attest]
    assert keep(nodes, _Backends()) == [vault, sm, attest]  # neither store: both stay and FAIL "not configured"


def test_the_probe_is_one_allowed_read(server: str) -> None:
    src = live(server)
    src.probe()
    assert src.down() is None  # answered: the session may use it
    bad = live(server, "wrong")
    with pytest.raises(SourceError, match="unauthorised"):
        bad.probe()


def test_an_unreadable_token_file_is_one_line(tmp_path: Path) -> None:
    cfg = PagerDuty(url="https://api.pagerduty.invalid", token_file=tmp_path / "missing")
    with pytest.raises(SourceError) as caught:
        PagerDutySource(cfg).oncalls(["P"], T0, h(1))
    assert "pagerduty: credentials: cannot read secret file" in str(caught.value)
