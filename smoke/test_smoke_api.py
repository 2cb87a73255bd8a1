"""Smoke tests through the public API with a synthetic account (PST-3..6), and PD-2 in one go.

These are nova-gate's only writes: a user ``smoke+<run>@nova-gate.invalid``, its session, one
conversation and one message. Nothing else is touched.
"""

from __future__ import annotations

import pytest

from nova_gate.backends.http import rules as http_rules
from nova_gate.backends.http.source import SmokeFlow
from nova_gate.verdict import combine


@pytest.fixture(scope="module")
def smoke(services_http):
    return SmokeFlow(services_http)


@pytest.mark.item("PST-3")
def test_register_synthetic_user(smoke, gate):
    answer = smoke.register()
    gate.evidence(source="http", request=f"POST {answer.url}", account=smoke.email, observed=answer.as_dict())
    gate.judge(http_rules.registered(answer))


@pytest.mark.item("PST-4")
def test_login_returns_token(smoke, gate):
    answer = smoke.login()
    gate.evidence(
        source="http",
        request=f"POST {answer.url}",
        account=smoke.email,
        observed={"status": answer.status, "token": bool(http_rules.token_of(answer))},
    )
    gate.judge(http_rules.logged_in(answer))


@pytest.mark.item("PST-5")
def test_feed_with_token(smoke, gate):
    answer = smoke.feed()
    items = len(answer.body) if isinstance(answer.body, list) else answer.body
    gate.evidence(
        source="http",
        request=f"GET {answer.url}",
        account=smoke.email,
        observed={"status": answer.status, "items": items},
    )
    gate.judge(http_rules.feed_served(answer))


@pytest.mark.item("PST-6")
def test_send_message(smoke, gate):
    conversation, message = smoke.conversation(), smoke.message()
    gate.evidence(
        source="http",
        account=smoke.email,
        observed={"conversation": conversation.as_dict(), "message": message.as_dict() if message else None},
    )
    gate.judge(http_rules.message_sent(conversation, message, smoke.content))


@pytest.mark.item("PD-2")
def test_smoke_suite_against_environment(services_http, gate):
    flow = SmokeFlow(services_http)
    verdicts = [
        http_rules.registered(flow.register()),
        http_rules.logged_in(flow.login()),
        http_rules.feed_served(flow.feed()),
    ]
    verdicts.append(http_rules.message_sent(flow.conversation(), flow.message(), flow.content))
    gate.evidence(source="http", **flow.evidence())
    gate.judge(combine(verdicts, what="smoke steps"))
