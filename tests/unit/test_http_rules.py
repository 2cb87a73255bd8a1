"""HTTP rules on hand-built answers (PST-1..6, RBK-5, PRE-CFG-3, PD-2) and the source on a closed port."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from nova_gate.backends.base import SourceError
from nova_gate.backends.http.facts import HttpAnswer, NotAnswered
from nova_gate.backends.http.rules import (
    all_healthy,
    endpoint_healthy,
    feed_served,
    jwks_valid,
    logged_in,
    message_sent,
    probes_healthy,
    registered,
)
from nova_gate.backends.http.source import HttpSource, SmokeFlow
from nova_gate.config import Release, Service
from nova_gate.testing import free_port
from nova_gate.verdict import Label

KEY = {"kid": "k1", "kty": "RSA", "n": "abc", "e": "AQAB", "alg": "RS256", "use": "sig"}


def ans(status: int = 200, body: Any = None) -> HttpAnswer:
    return HttpAnswer("GET", "http://x/y", status, body if body is not None else {"status": "ok"}, 0.01)


def test_endpoint_healthy() -> None:
    assert endpoint_healthy("s", "health", ans()).label is Label.PASS
    assert endpoint_healthy("s", "health", ans(200, "OK")).label is Label.PASS
    assert endpoint_healthy("s", "health", ans(503)).label is Label.FAIL
    assert endpoint_healthy("s", "health", ans(200, {"status": "unavailable"})).label is Label.FAIL


def test_probes_and_rollup() -> None:
    assert probes_healthy("s", ans(), ans()).label is Label.PASS
    assert probes_healthy("s", ans(), ans(503)).label is Label.FAIL
    assert all_healthy({"a": ans(), "b": ans()}).label is Label.PASS
    assert all_healthy({"a": ans(), "b": ans(500)}).label is Label.FAIL
    down = all_healthy({"a": ans(), "b": NotAnswered("b health", "http: connect refused")})
    assert down.label is Label.FAIL and "b health: http: connect refused" in down.reason
    assert all_healthy({}).label is Label.INCONCLUSIVE


@pytest.mark.parametrize(
    ("answer", "label"),
    [
        (ans(200, {"keys": [KEY]}), Label.PASS),
        (ans(200, {"keys": [KEY, {**KEY, "kid": "k2"}]}), Label.PASS),
        (ans(200, {"keys": []}), Label.FAIL),
        (ans(200, {}), Label.FAIL),
        (ans(404, {"keys": [KEY]}), Label.FAIL),
        (ans(200, {"keys": [{k: v for k, v in KEY.items() if k != "kid"}]}), Label.FAIL),
        (ans(200, {"keys": [{**KEY, "kty": "EC", "alg": "ES256"}]}), Label.FAIL),
    ],
)
def test_jwks(answer: HttpAnswer, label: Label) -> None:
    assert jwks_valid(answer).label is label


def test_smoke_steps() -> None:
    assert registered(ans(201, {"id": 5})).label is Label.PASS
    assert registered(ans(409, {"error": "dup"})).label is Label.FAIL
    assert registered(ans(201, {})).label is Label.FAIL
    assert logged_in(ans(200, {"access_token": "a.b.c"})).label is Label.PASS
    assert logged_in(ans(200, {"access_token": ""})).label is Label.FAIL
    assert logged_in(ans(401, {"error": "x"})).label is Label.FAIL
    assert feed_served(ans(200, [])).label is Label.PASS
    assert feed_served(ans(200, {"items": [1]})).label is Label.PASS
    assert feed_served(ans(200, {"status": "ok"})).label is Label.FAIL
    assert feed_served(ans(503, [])).label is Label.FAIL
    conv = ans(201, {"id": "c1"})
    assert message_sent(conv, ans(201, {"id": 1, "content": "hi"}), "hi").label is Label.PASS
    assert message_sent(conv, ans(201, {"id": 1, "content": "other"}), "hi").label is Label.FAIL
    assert message_sent(ans(503, {}), None, "hi").label is Label.FAIL
    assert message_sent(conv, ans(403, {}), "hi").label is Label.FAIL


def release(port: int) -> Release:
    return Release(
        version="v1",
        baseline_version="v0",
        base_url="http://127.0.0.1:{port}",
        services=[Service(name=n, port=port) for n in ("auth-service", "feed-service", "messaging-service")],
    )


def test_unreachable_service_is_a_source_error_in_bounded_time() -> None:
    src = HttpSource(release(free_port()), timeout_s=1)
    started = time.monotonic()
    with pytest.raises(SourceError, match="http"):
        src.health("auth-service")
    with pytest.raises(SourceError):
        SmokeFlow(src).register()
    assert time.monotonic() - started < 10
    src.close()


def test_smoke_flow_reports_facts_and_the_rules_judge_every_step() -> None:
    def unavailable(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"error": "database unavailable"})

    flow = SmokeFlow(HttpSource(release(1), client=httpx.Client(transport=httpx.MockTransport(unavailable))))
    assert registered(flow.register()).label is Label.FAIL
    assert logged_in(flow.login()).label is Label.FAIL  # no exception from the flow: a fact
    feed = flow.feed()
    assert isinstance(feed, NotAnswered) and "no access token (HTTP 503)" in feed.reason
    verdict = feed_served(feed)
    assert verdict.label is Label.FAIL and "feed: not sent" in verdict.reason
    sent = message_sent(flow.conversation(), flow.message(), flow.content)
    assert sent.label is Label.FAIL and "not sent" in sent.reason
    assert "password" not in str(flow.evidence())
