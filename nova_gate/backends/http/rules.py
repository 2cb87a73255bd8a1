"""HTTP verdicts: health and probes (PST-1, PST-2, RBK-5), JWKS (PRE-CFG-3), smoke steps (PST-3..6, PD-2)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from nova_gate.backends.http.facts import HttpAnswer
from nova_gate.verdict import Label, Verdict, combine, failed, inconclusive, passed

HEALTHY_STATUSES = {"ok", "up", "healthy", "pass", "ready", "live", "alive"}


def endpoint_healthy(service: str, what: str, answer: HttpAnswer) -> Verdict:
    """200, and when the body is JSON with a ``status`` field, a healthy one."""
    expected = f"HTTP 200 from {what}"
    observed = answer.as_dict()
    if answer.status != 200:
        return failed(f"{service} {what} answered HTTP {answer.status}", observed, expected)
    status = answer.body.get("status") if isinstance(answer.body, Mapping) else None
    if status is not None and str(status).lower() not in HEALTHY_STATUSES:
        return failed(f"{service} {what} answered 200 with status {status!r}", observed, expected)
    return passed(f"{service} {what} 200 in {answer.seconds:.3f}s", observed, expected)


def probes_healthy(service: str, live: HttpAnswer, ready: HttpAnswer) -> Verdict:
    """PST-2: liveness and readiness both answer 200."""
    return combine(
        [endpoint_healthy(service, "liveness", live), endpoint_healthy(service, "readiness", ready)],
        what=f"{service} probes",
    )


def all_healthy(verdicts: Sequence[Verdict]) -> Verdict:
    """RBK-5: every service's health endpoint answers."""
    return combine(verdicts, what="service health checks")


def jwks_valid(answer: HttpAnswer) -> Verdict:
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


def _step(name: str, answer: HttpAnswer, ok: tuple[int, ...], expected: str, check: Any = None) -> Verdict:
    observed = answer.as_dict()
    if answer.status not in ok:
        return failed(f"{name}: {answer.method} {answer.url} answered HTTP {answer.status}", observed, expected)
    if check is not None:
        problem = check(answer.body)
        if problem:
            return failed(f"{name}: {problem}", observed, expected)
    return passed(f"{name}: HTTP {answer.status} in {answer.seconds:.3f}s", observed, expected)


def registered(answer: HttpAnswer) -> Verdict:
    """PST-3: the synthetic user is created (201/200 with an id)."""
    return _step(
        "register",
        answer,
        (200, 201),
        "HTTP 201 with the new user's id",
        lambda b: None if isinstance(b, Mapping) and b.get("id") is not None else "no user id in the answer",
    )


def logged_in(answer: HttpAnswer) -> Verdict:
    """PST-4: login returns a bearer token."""

    def check(body: Any) -> str | None:
        token = body.get("access_token") or body.get("token") if isinstance(body, Mapping) else None
        return None if isinstance(token, str) and token.count(".") == 2 else "no JWT access_token in the answer"

    return _step("login", answer, (200,), "HTTP 200 with an access_token (JWT)", check)


def feed_served(answer: HttpAnswer) -> Verdict:
    """PST-5: the feed answers 200 with a list (an empty feed is fine for a new user)."""

    def check(body: Any) -> str | None:
        items = body.get("items") if isinstance(body, Mapping) else body
        return None if isinstance(items, list) else "the feed is not a JSON list"

    return _step("feed", answer, (200,), "HTTP 200 with a JSON list", check)


def message_sent(conversation: HttpAnswer, message: HttpAnswer | None, content: str) -> Verdict:
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


def token_of(answer: HttpAnswer) -> str | None:
    body = answer.body
    token = (body.get("access_token") or body.get("token")) if isinstance(body, Mapping) else None
    return token if isinstance(token, str) else None


def signing_kids(body: Any) -> list[str]:
    """The kids of a JWKS document's RSA signing keys (what :func:`jwks_valid` counts)."""
    keys = body.get("keys") if isinstance(body, Mapping) else None
    return [
        str(k["kid"])
        for k in keys or []
        if isinstance(k, Mapping)
        and k.get("kid")
        and k.get("kty") == "RSA"
        and k.get("alg", "RS256") == "RS256"
        and k.get("use", "sig") == "sig"
    ]


def jwks_rotation_overlap(
    kids: Sequence[str],
    last_seen: Mapping[str, dt.datetime] | None,
    now: dt.datetime,
    token_ttl_s: float,
) -> Verdict:
    """PRE-CFG-3 "JWT keys rotated (if needed, with overlap period)": a signing key seen published
    less than ``token_ttl_s`` ago must still be published, since tokens it signed may still be
    valid; during a rotation old and new keys are published together.

    ``last_seen`` is the key history (kid -> when a passing check last saw it published; None when
    no history is configured). The checklist gives no overlap length: the rule chose the maximum
    token lifetime (``thresholds.jwt_token_ttl_s``, default 1 h), stated in the evidence.
    """
    expected = (
        f"every signing key seen in the last {token_ttl_s / 60:g} min (token lifetime, chosen) still published; "
        "during a rotation old and new keys both published"
    )
    observed: dict[str, Any] = {
        "published": list(kids),
        "history": None if last_seen is None else {k: v.isoformat() for k, v in sorted(last_seen.items())},
        "token_ttl_s": token_ttl_s,
    }
    if not kids:
        return failed("JWKS publishes no signing key: every token fails verification", observed, expected)
    if last_seen is None:
        return inconclusive("no key history configured (files.preflight_records): overlap unknown", observed, expected)
    withdrawn = {
        k: (now - seen).total_seconds()
        for k, seen in last_seen.items()
        if k not in kids and now - seen < dt.timedelta(seconds=token_ttl_s)
    }
    if withdrawn:
        named = ", ".join(f"{k} (published {age / 60:.0f} min ago)" for k, age in sorted(withdrawn.items()))
        new = [k for k in kids if k not in last_seen]
        return failed(
            f"rotation without overlap: {named} withdrawn while tokens it signed may be valid for "
            f"{token_ttl_s / 60:g} min" + (f"; now only {', '.join(new)}" if new else ""),
            observed,
            expected,
            withdrawn=sorted(withdrawn),
        )
    if len(kids) > 1:
        return passed(f"rotation overlap: {len(kids)} signing keys published ({', '.join(kids)})", observed, expected)
    if not last_seen:
        return passed(f"signing key {kids[0]} published; key history starts with this run", observed, expected)
    retired = sorted(k for k in last_seen if k not in kids)
    text = f"signing key {kids[0]} published, no key withdrawn within {token_ttl_s / 60:g} min"
    return passed(text + (f" (retired after the token lifetime: {', '.join(retired)})" if retired else ""),
                  observed, expected)  # fmt: skip


def jwks_keys_and_overlap(
    answer: HttpAnswer, last_seen: Mapping[str, dt.datetime] | None, now: dt.datetime, token_ttl_s: float
) -> Verdict:
    """PRE-CFG-3 whole: valid signing keys (:func:`jwks_valid`) and the rotation overlap."""
    parts = [
        jwks_valid(answer),
        jwks_rotation_overlap(signing_kids(answer.body) if answer.status == 200 else [], last_seen, now, token_ttl_s),
    ]
    folded = combine(parts, what="JWKS checks")
    if folded.label is Label.PASS:
        return Verdict(Label.PASS, "; ".join(v.reason for v in parts), parts[1].observed, parts[1].expected,
                       details=folded.details)  # fmt: skip
    return Verdict(folded.label, folded.reason, parts[1].observed, parts[1].expected, details=folded.details)
