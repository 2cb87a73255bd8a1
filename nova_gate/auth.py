"""How the gates prove who they are to a backend, and how they check who the backend is.

Typed pieces the backends' config models are built from, so every backend spells TLS and
credentials the same way in an environment file:

    prometheus:
      url: https://mimir.internal/prometheus
      auth:
        username: nova-gate                    # basic auth ...
        password: ${NOVA_GATE_PROM_PASSWORD}
        # token_file: /var/run/secrets/nova-gate/prom-token   # ... or a bearer token
        headers: {X-Scope-OrgID: nova}         # a Mimir/Cortex/Thanos tenant
      tls:
        ca_file: /etc/nova-gate/ca.pem
        cert_file: /etc/nova-gate/gate.crt     # only where the server asks for client certs
        key_file: /etc/nova-gate/gate.key

A secret is either a ``${ENV}`` reference (resolved once, by nova_gate.config) or a file (``*_file``,
read when used: a mounted Kubernetes secret rotates under a running gate). Neither ever appears in
a reason, report or log: :func:`failure_kind` turns a driver's refusal into one word.
"""

from __future__ import annotations

import re
import ssl
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr, model_validator

#: what a refused connection is about, for the one-line reason: "<backend>: unauthorised: ..." / "TLS"
UNAUTHORISED = "unauthorised"
TLS = "TLS"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Tls(_Model):
    """Transport security: the CA bundle that signs the server, and a client certificate if asked."""

    #: PEM bundle of the CAs that may sign the server's certificate; unset: the system's trust store
    ca_file: Path | None = None
    #: a client certificate and its key (PEM), for servers that require one (mTLS)
    cert_file: Path | None = None
    key_file: Path | None = None
    #: the name to check the server's certificate against when it differs from the host dialled
    server_name: str | None = None

    @model_validator(mode="after")
    def _pair(self) -> Tls:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        return self

    def context(self) -> ssl.SSLContext:
        """A verifying client context (hostname checked, TLS 1.2 or newer); never unverified."""
        ctx = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.cert_file is not None and self.key_file is not None:
            ctx.load_cert_chain(str(self.cert_file), str(self.key_file))
        return ctx


def check_one_credential(model: Any, other: str, other_words: str) -> None:
    """Basic auth (``username``, ``password`` or ``password_file``) or the ``other`` secret (inline or
    ``<other>_file``), never both, each given one way, and a password only with a username."""
    basic = model.username is not None or model.password is not None or model.password_file is not None
    secret, secret_file = getattr(model, other), getattr(model, f"{other}_file")
    if basic and (secret is not None or secret_file is not None):
        raise ValueError(f"either basic auth (username/password) or {other_words}, not both")
    if model.password is not None and model.password_file is not None:
        raise ValueError("password and password_file are two ways to say the same thing: give one")
    if secret is not None and secret_file is not None:
        raise ValueError(f"{other} and {other}_file are two ways to say the same thing: give one")
    if (model.password is not None or model.password_file is not None) and not model.username:
        raise ValueError("a password needs a username")


class BasicCredentials(_Model):
    """Basic auth's fields: a username and its password (a ``${ENV}`` reference or a file). A model
    built on it names its other secret and calls :func:`check_one_credential` on itself."""

    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None


class HttpAuth(BasicCredentials):
    """An HTTP API's credentials: basic auth or a bearer token (inline reference or file), headers."""

    token: SecretStr | None = None
    token_file: Path | None = None
    #: extra request headers, e.g. ``X-Scope-OrgID`` for a Mimir/Cortex/Thanos tenant (not secrets)
    headers: dict[str, str] = {}

    @model_validator(mode="after")
    def _one_way(self) -> HttpAuth:
        check_one_credential(self, "token", "a bearer token")
        for name in self.headers:
            if name.lower() == "authorization":
                raise ValueError("put credentials in username/password or token, not in headers")
        return self

    def request_headers(self) -> dict[str, str]:
        """Headers for every request, ``Authorization`` included; contains secrets, never log it."""
        import base64

        out = dict(self.headers)
        token = read_secret(self.token, self.token_file)
        if token:
            out["Authorization"] = f"Bearer {token}"
        elif self.username is not None:
            password = read_secret(self.password, self.password_file) or ""
            raw = f"{self.username}:{password}".encode()
            out["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        return out


def read_secret(value: SecretStr | None, file: Path | None) -> str | None:
    """The secret, from its resolved reference or from its file (stripped of a trailing newline)."""
    if value is not None:
        return value.get_secret_value()
    if file is None:
        return None
    try:
        return file.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:  # the path may be shown, never the content
        raise SecretFileError(f"cannot read secret file {file}: {exc.strerror or exc}") from None


class SecretFileError(Exception):
    """A ``*_file`` secret could not be read (its path is in the message, never its content)."""


def httpx_options(auth: HttpAuth | None, tls: Tls | None, url: str) -> dict[str, Any]:
    """``headers`` and ``verify`` for an httpx client: credentials, tenant headers, CA/client cert."""
    options: dict[str, Any] = {"headers": auth.request_headers() if auth else {}}
    if tls is not None:
        options["verify"] = tls.context()
    elif url.startswith("https://"):
        options["verify"] = ssl.create_default_context()
    return options


# -- one word for a refusal ---------------------------------------------------------------------
_AUTH_MARKERS = (
    "password authentication failed",  # PostgreSQL
    "authentication failed",  # ClickHouse 516, Kafka SASL
    "no pg_hba.conf entry",
    "pg_hba.conf rejects connection",  # an explicit reject line for this identity (TLS is checked first)
    "certificate authentication failed",
    "wrongpass",  # Redis AUTH
    "invalid username-password pair",
    "noauth",
    "noperm",
    "authentication required",
    "unauthorized",
    "unauthorised",
    "forbidden",
    "access denied",
    "permission denied",
)
#: a wait that ran out: the peer never answered (even mid-handshake), whatever the driver then calls it
_TIMED_OUT = re.compile(r"timed out|timeout")

_TLS_MARKERS = (
    "certificate verify failed",
    "ssl error",
    "ssl:",
    "tls handshake",
    "tls:",
    "tlsv1",
    "handshake",
    "does not support ssl",
    "requires a valid client certificate",
    "no encryption",
    "wrong version number",
    "record layer failure",
    "http request to an https server",
    "unknown ca",
    "self-signed certificate",
    "certificate has expired",
)


#: AWS error codes that refuse the credentials themselves (the key, its signature, the session
#: token): no later call with them can succeed. ``AccessDenied`` (also HTTP 403) refuses one action.
AWS_IDENTITY_CODES = (
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidClientTokenId",
    "ExpiredToken",
    "InvalidToken",
    "UnrecognizedClient",
)
#: AWS error codes of a refused identity or privilege: what the AWS sources word as "unauthorised"
AWS_REFUSAL_CODES = frozenset(
    {*AWS_IDENTITY_CODES, "UnrecognizedClientException", "TokenRefreshRequired", "AccessDenied", "403", "401"}
)
#: words of a refusal that concerns one privilege, not who we are (PostgreSQL, Redis ACLs, S3, HTTP 403)
_PRIVILEGE_MARKERS = ("permission denied", "noperm", "readonly", "forbidden", "access denied", "accessdenied")
_HTTP_403 = re.compile(r"\bhttp 403\b")


def refuses_identity(kind: str | None, cause: object, status: int | None = None) -> bool:
    """Whether a refusal of ``kind`` refuses the transport or the credentials themselves, so that no
    later call can succeed: TLS, a failed password, an unknown AWS key. One privilege refused ("permission
    denied for table x", an S3 AccessDenied, any HTTP 403) says nothing about the next call."""
    if kind == TLS:
        return True
    if kind != UNAUTHORISED or status == 403:
        return False
    text = str(cause).lower()
    if any(code.lower() in text for code in AWS_IDENTITY_CODES):  # AWS answers both with 403
        return True
    if _HTTP_403.search(text):  # a 403 inside a source's own wording (S3's "AccessDenied, HTTP 403")
        return False
    return not any(m in text for m in _PRIVILEGE_MARKERS)


def failure_kind(cause: object, status: int | None = None) -> str | None:
    """``"TLS"``, ``"unauthorised"`` or None for a driver's exception (or an HTTP status).

    TLS first: a handshake that fails on an untrusted CA is a TLS problem even when the driver's
    message then mentions authentication; a missing client certificate is TLS too.
    """
    if status in (401, 403):
        return UNAUTHORISED
    if isinstance(cause, ssl.SSLError | ssl.CertificateError):
        return TLS
    chain: list[BaseException] = []
    current = cause if isinstance(cause, BaseException) else None
    while current is not None and current not in chain and len(chain) < 8:
        chain.append(current)
        current = current.__cause__ or current.__context__
    if any(isinstance(c, ssl.SSLError | ssl.CertificateError) for c in chain):
        return TLS
    text = " ".join(str(c) for c in chain).lower() if chain else str(cause).lower()
    names = " ".join(type(c).__name__.lower() for c in chain)
    if any(isinstance(c, TimeoutError) for c in chain) or _TIMED_OUT.search(text):
        return None  # a handshake nobody answers (a black hole) is no answer, not a TLS problem
    if any(m in text for m in _TLS_MARKERS) or "ssl" in names:
        return TLS
    if any(m in text for m in _AUTH_MARKERS) or "authentication" in names or "nopermission" in names:
        return UNAUTHORISED
    return None
