"""Service health after deploy (PST-1, PST-2), after rollback (RBK-5), and the JWKS (PRE-CFG-3)."""

from __future__ import annotations

import datetime as dt

import pytest

from nova_gate.backends.base import SourceError
from nova_gate.backends.http import rules as http_rules
from nova_gate.backends.http.key_ledger import KeyLedger
from nova_gate.verdict import Label, failed


@pytest.mark.item("PST-1")
def test_service_health(services_http, service, gate):
    answer = services_http.health(service)
    gate.evidence(source="http", request=f"GET {answer.url}", observed=answer.as_dict(), expected="HTTP 200")
    gate.judge(http_rules.endpoint_healthy(service, "health", answer))


@pytest.mark.item("PST-2")
def test_liveness_and_readiness(services_http, service, gate):
    live, ready = services_http.live(service), services_http.ready(service)
    gate.evidence(
        source="http",
        request=[f"GET {live.url}", f"GET {ready.url}"],
        observed={"live": live.as_dict(), "ready": ready.as_dict()},
        expected="HTTP 200 both",
    )
    gate.judge(http_rules.probes_healthy(service, live, ready))


@pytest.mark.item("RBK-5")
def test_health_after_rollback(services_http, env, gate):
    verdicts = []
    for service in env.service_names:
        try:
            verdicts.append(http_rules.endpoint_healthy(service, "health", services_http.health(service)))
        except SourceError as exc:
            verdicts.append(failed(f"{service}: {exc}"))
    gate.evidence(
        source="http",
        request="GET <health_path> of every service",
        observed={v.reason: str(v.label) for v in verdicts},
        expected="HTTP 200 from all",
    )
    gate.judge(http_rules.all_healthy(verdicts))


@pytest.mark.item("PRE-CFG-3")
def test_jwks_signing_keys(services_http, env, gate):
    if env.backends.jwks is None:
        raise SourceError("jwks", "backends.jwks not configured in this environment")
    answer = services_http.jwks(env.backends.jwks.url)
    gate.evidence(
        source="http",
        request=f"GET {answer.url}",
        observed={
            "status": answer.status,
            "keys": [
                {k: v for k, v in key.items() if k != "n"}
                for key in (answer.body or {}).get("keys", [])
                if isinstance(key, dict)
            ]
            if isinstance(answer.body, dict)
            else answer.body,
        },
        expected=">= 1 RS256 signing key with kid/kty/n/e; no key withdrawn within the token lifetime",
    )
    ledger = KeyLedger(env.files.preflight_records)
    now = dt.datetime.now(dt.UTC)
    ttl = env.thresholds.jwt_token_ttl_s
    verdict = http_rules.jwks_keys_and_overlap(answer, ledger.last_seen(), now, ttl)
    if verdict.label is Label.PASS:  # only a key set the gate accepted becomes history
        ledger.record(http_rules.signing_kids(answer.body), now, keep_s=ttl)
    gate.judge(verdict)
