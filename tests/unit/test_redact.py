"""Structural redaction (nova_gate.redact): by key, by pattern, by value — on randomised secrets."""

from __future__ import annotations

import base64
import json
import random
import secrets
import string

from nova_gate import redact


def _jwt() -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    sig = base64.urlsafe_b64encode(secrets.token_bytes(64)).rstrip(b"=").decode()
    return f"{part({'alg': 'RS256', 'kid': secrets.token_hex(4)})}.{part({'sub': secrets.token_hex(8)})}.{sig}"


def _junk(n: int) -> str:
    return "".join(random.choice(string.ascii_letters + string.digits) for _ in range(n))


def test_keys_named_like_credentials_are_masked_at_any_depth():
    for _ in range(50):
        value = _junk(random.randint(8, 40))
        key = random.choice(
            [
                "password",
                "access_token",
                "refresh_token",
                "Authorization",
                "Cookie",
                "api_key",
                "X-Api-Key",
                "client_secret",
                "sessionId",
                "DB_PASSWORD",
                "privateKey",
            ]
        )
        doc = {"a": [{"b": {key: value, "status": 200}}], "note": "ok"}
        out = redact.redact(doc)
        text = json.dumps(out)
        assert value not in text
        assert out["a"][0]["b"]["status"] == 200 and out["note"] == "ok"


def test_flags_counts_and_timestamps_under_credential_keys_are_kept():
    doc = {"token": True, "secrets": 3, "DB_PASSWORD": "2026-11-30T10:00:00+00:00", "password": None}
    assert redact.redact(doc) == doc


def test_patterns_in_free_text():
    for _ in range(30):
        jwt, pw, tok = _jwt(), _junk(16), _junk(30)
        text = (
            f"login body {{'access': '{jwt}'}} then header Authorization: Bearer {tok} "
            f"and url postgres://nova:{pw}@db.internal:5432/nova; dsn host=x password='{pw}' user=y"
        )
        out = redact.redact_text(text)
        for secret in (jwt, pw, tok):
            assert secret not in out, out
        assert "db.internal:5432" in out and "user=y" in out


def test_configured_and_registered_values():
    configured, runtime = _junk(20), _junk(24)
    redact.register(runtime)
    out = redact.redact_text(f"a {configured} b {runtime} c", [configured])
    assert configured not in out and runtime not in out and out.startswith("a ")


def test_pem_private_key():
    pem = "-----BEGIN PRIVATE KEY-----\nMIIEv" + _junk(200) + "\n-----END PRIVATE KEY-----"
    assert "MIIEv" not in redact.redact_text(f"key: {pem}")


def test_ordinary_text_is_left_alone():
    for text in (
        "auth-service: GET /api/v1/health: HTTP 200 in 0.01s; 11 of 11 pods ready; p95 120 ms",
        "test_secrets_present_and_rotated: vault: GET /v1/secret/metadata/x: server error 502",
        "secrets: 3 present; tokens: none; token_type: bearer",
    ):
        assert redact.redact_text(text) == text


def test_key_value_secrets_with_prefixes():
    for text in ("PGPASSWORD=hunter2xyz", "db_password: 'hunter2xyz'", "AWS_SECRET_ACCESS_KEY=hunter2xyz"):
        assert "hunter2xyz" not in redact.redact_text(text), text
