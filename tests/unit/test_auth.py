"""nova_gate.auth: typed credentials and TLS, secrets from references or files, one word per refusal."""

from __future__ import annotations

import base64
import ssl
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from nova_gate.auth import TLS, UNAUTHORISED, HttpAuth, SecretFileError, Tls, failure_kind, httpx_options
from nova_gate.sandbox.pki import LocalCA


def test_basic_auth_header_and_tenant() -> None:
    auth = HttpAuth(username="nova-gate", password=SecretStr("s3cret"), headers={"X-Scope-OrgID": "nova"})
    headers = auth.request_headers()
    assert headers["X-Scope-OrgID"] == "nova"
    assert base64.b64decode(headers["Authorization"].removeprefix("Basic ")) == b"nova-gate:s3cret"
    assert "s3cret" not in repr(auth) and "s3cret" not in str(auth.model_dump())


def test_token_from_file_is_read_when_used(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("first\n")
    auth = HttpAuth(token_file=token)
    assert auth.request_headers()["Authorization"] == "Bearer first"
    token.write_text("rotated\n")  # a mounted secret rotates under a running gate
    assert auth.request_headers()["Authorization"] == "Bearer rotated"


def test_unreadable_secret_file_names_the_path_only(tmp_path: Path) -> None:
    auth = HttpAuth(username="u", password_file=tmp_path / "missing")
    with pytest.raises(SecretFileError, match="missing"):
        auth.request_headers()


@pytest.mark.parametrize(
    "fields",
    [
        {"username": "u", "password": SecretStr("p"), "token": SecretStr("t")},
        {"password": SecretStr("p")},
        {"token": SecretStr("t"), "token_file": Path("/t")},
        {"username": "u", "password": SecretStr("p"), "password_file": Path("/p")},
        {"headers": {"Authorization": "Bearer x"}},
    ],
    ids=["basic-and-bearer", "password-without-user", "token-twice", "password-twice", "auth-in-headers"],
)
def test_ambiguous_credentials_rejected(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        HttpAuth(**fields)  # type: ignore[arg-type]


def test_tls_context_verifies_and_loads_client_cert(tmp_path: Path) -> None:
    ca = LocalCA(tmp_path)
    pair = ca.client("gate")
    ctx = Tls(ca_file=ca.cert, cert_file=pair.cert, key_file=pair.key).context()
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert ctx.minimum_version >= ssl.TLSVersion.TLSv1_2
    with pytest.raises(ValidationError):
        Tls(cert_file=pair.cert)


def test_httpx_options_https_always_verifies() -> None:
    options = httpx_options(None, None, "https://prom.example")
    assert isinstance(options["verify"], ssl.SSLContext) and options["verify"].verify_mode == ssl.CERT_REQUIRED
    assert "verify" not in httpx_options(None, None, "http://127.0.0.1:9")


class _Wrapped(Exception):
    pass


def _chained(inner: BaseException, outer: str) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise _Wrapped(outer) from exc
    except _Wrapped as exc:
        return exc


@pytest.mark.parametrize(
    ("cause", "status", "kind"),
    [
        # messages as the real servers and drivers word them (seen in tests/proofs/test_locked_backends.py)
        ('connection failed: FATAL:  password authentication failed for user "nova_gate_ro"', None, UNAUTHORISED),
        ("connection failed: SSL error: certificate verify failed", None, TLS),
        ("FATAL: connection requires a valid client certificate", None, TLS),
        ('FATAL: pg_hba.conf rejects connection for host "127.0.0.1", user "x", no encryption', None, TLS),
        ("invalid username-password pair or user is disabled.", None, UNAUTHORISED),
        ("WRONGPASS invalid username-password pair or user is disabled.", None, UNAUTHORISED),
        ("Code: 516. DB::Exception: x: Authentication failed: password is incorrect", None, UNAUTHORISED),
        ("HTTP 401: Unauthorized", 401, UNAUTHORISED),
        ("HTTP 403", 403, UNAUTHORISED),
        ("Client sent an HTTP request to an HTTPS server.", 400, TLS),
        (ssl.SSLCertVerificationError(1, "certificate verify failed: unable to get local issuer"), None, TLS),
        (_chained(ssl.SSLError(1, "bad"), "ConnectError: something"), None, TLS),
        ("connection refused", None, None),
        ("timed out", None, None),
        # a black-holed TLS listener: the handshake waits out its deadline (no answer, not TLS)
        ("Handshake failed: KafkaTimeoutError: I/O wait timed out", None, None),
        (_chained(TimeoutError("_ssl.c:980: The handshake operation timed out"), "ConnectError: x"), None, None),
    ],
)
def test_failure_kind(cause: object, status: int | None, kind: str | None) -> None:
    assert failure_kind(cause, status) == kind


@pytest.mark.parametrize(
    ("cause", "prefix", "not_retried"),
    [
        ('FATAL:  password authentication failed for user "nova_gate_ro"', "postgres: unauthorised: connect", True),
        ("SSL error: certificate verify failed", "postgres: TLS: connect", True),
        ("HTTP 401: Unauthorized", "postgres: unauthorised: connect", True),
        ("permission denied for table users", "postgres: unauthorised: connect", False),  # one privilege
        ("HTTP 403: forbidden", "postgres: unauthorised: connect", False),
        ("division by zero", "postgres: connect", False),
    ],
)
def test_source_error_names_the_refusal(cause: str, prefix: str, not_retried: bool) -> None:
    from nova_gate.backends.base import SourceError

    error = SourceError("postgres", "connect 127.0.0.1:5432", cause)
    assert str(error).startswith(prefix)
    assert error.unreachable is not_retried
