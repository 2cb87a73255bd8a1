"""HTTP verdicts: health and probes (PST-1, PST-2, RBK-5), JWKS (PRE-CFG-3), smoke steps (PST-3..6, PD-2)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from nova_gate.verdict import Verdict, combine, failed, passed

HEALTHY_STATUSES = {"ok", "up", "healthy", "pass", "ready", "live", "alive"}


class _Answer(Protocol):
    method: str
    url: str
    status: int
    body: Any
    seconds: float

    def as_dict(self) -> dict[str, Any]: ...


def endpoint_healthy(service: str, what: str, answer: _Answer) -> Verdict:
    """200, and when the body is JSON with a ``status`` field, a healthy one."""
    expected = f"HTTP 200 from {what}"
    observed = answer.as_dict()
    if answer.status != 200:
        return failed(f"{service} {what} answered HTTP {answer.status}", observed, expected)
    status = answer.body.get("status") if isinstance(answer.body, Mapping) else None
    if status is not None and str(status).lower() not in HEALTHY_STATUSES:
        return failed(f"{service} {what} answered 200 with status {status!r}", observed, expected)
    return passed(f"{service} {what} 200 in {answer.seconds:.3f}s", observed, expected)


def probes_healthy(service: str, live: _Answer, ready: _Answer) -> Verdict:
    """PST-2: liveness and readiness both answer 200."""
    return combine(
        [endpoint_healthy(service, "liveness", live), endpoint_healthy(service, "readiness", ready)],
        what=f"{service} probes",
    )


def all_healthy(verdicts: Sequence[Verdict]) -> Verdict:
    """RBK-5: every service's health endpoint answers."""
    return combine(verdicts, what="service health checks")


def jwks_valid(answer: _Answer) -> Verdict:
    """PRE-CFG-3: at least one RSA signing key, each with kid/kty/n/e; RS256 when alg is given."""
    expected = ">= 1 RS256 signing key, each with kid, kty, n, e"
    observed: Any = answer.as_dict()
    if answer.status != 200:
        return failed(f"JWKS answered HTTP {answer.status}", observed, expected)
    keys = answer.body.get("keys") if isinstance(answer.body, Mapping) else None
    if not isinstance(keys, list) or not keys:
        return failed("JWKS publishes no keys", observed, expected)
    problems = []
    signing = []
    for i, key in enumerate(keys):
        if not isinstance(key, Mapping):
            problems.append(f"key {i} is not an object")
            continue
        missing = [f for f in ("kid", "kty", "n", "e") if not key.get(f)]
        if missing:
            problems.append(f"key {key.get('kid', i)} lacks {', '.join(missing)}")
            continue
        if key.get("kty") == "RSA" and key.get("alg", "RS256") == "RS256" and key.get("use", "sig") == "sig":
            signing.append(str(key["kid"]))
    observed = {
        "url": answer.url,
        "kids": [k.get("kid") for k in keys if isinstance(k, Mapping)],
        "signing_kids": signing,
    }
    if problems:
        return failed("; ".join(problems), observed, expected)
    if not signing:
        return failed("JWKS has no RS256 signing key", observed, expected)
    return passed(f"JWKS publishes {len(signing)} RS256 signing key(s): {', '.join(signing)}", observed, expected)


def _step(name: str, answer: _Answer, ok: tuple[int, ...], expected: str, check: Any = None) -> Verdict:
    observed = answer.as_dict()
    if answer.status not in ok:
        return failed(f"{name}: {answer.method} {answer.url} answered HTTP {answer.status}", observed, expected)
    if check is not None:
        problem = check(answer.body)
        if problem:
            return failed(f"{name}: {problem}", observed, expected)
    return passed(f"{name}: HTTP {answer.status} in {answer.seconds:.3f}s", observed, expected)


def registered(answer: _Answer) -> Verdict:
    """PST-3: the synthetic user is created (201/200 with an id)."""
    return _step(
        "register",
        answer,
        (200, 201),
        "HTTP 201 with the new user's id",
        lambda b: None if isinstance(b, Mapping) and b.get("id") is not None else "no user id in the answer",
    )


def logged_in(answer: _Answer) -> Verdict:
    """PST-4: login returns a bearer token."""

    def check(body: Any) -> str | None:
        token = body.get("access_token") or body.get("token") if isinstance(body, Mapping) else None
        return None if isinstance(token, str) and token.count(".") == 2 else "no JWT access_token in the answer"

    return _step("login", answer, (200,), "HTTP 200 with an access_token (JWT)", check)


def feed_served(answer: _Answer) -> Verdict:
    """PST-5: the feed answers 200 with a list (an empty feed is fine for a new user)."""

    def check(body: Any) -> str | None:
        items = body.get("items") if isinstance(body, Mapping) else body
        return None if isinstance(items, list) else "the feed is not a JSON list"

    return _step("feed", answer, (200,), "HTTP 200 with a JSON list", check)


def message_sent(conversation: _Answer, message: _Answer | None, content: str) -> Verdict:
    """PST-6: a conversation is created and a message is stored in it."""
    conv = _step(
        "create conversation",
        conversation,
        (200, 201),
        "HTTP 201 with a conversation id",
        lambda b: None if isinstance(b, Mapping) and b.get("id") else "no conversation id",
    )
    if message is None or conv.label.rank != 0:
        return conv
    return _step(
        "send message",
        message,
        (200, 201),
        "HTTP 201 echoing the message",
        lambda b: (
            None
            if isinstance(b, Mapping) and b.get("content") == content and b.get("id") is not None
            else "the message was not echoed back with an id"
        ),
    )


def token_of(answer: _Answer) -> str | None:
    body = answer.body
    token = (body.get("access_token") or body.get("token")) if isinstance(body, Mapping) else None
    return token if isinstance(token, str) else None
