"""Structural redaction: nothing secret leaves the process.

Applied where every artifact is rendered (evidence, decision, HTML, JUnit properties, terminal
summary, captured logs). Three layers, each sufficient on its own for its class of secret:

- by key: the value of any mapping key named like a credential (``token``, ``password``,
  ``authorization``, ``cookie``, ``api_key``, ``secret``, ...) is replaced, whatever it holds;
- by pattern: JWTs, ``Bearer``/``Basic`` credentials, ``user:pass@`` in URLs, ``password=...``
  pairs in DSNs and query strings, PEM private keys, AWS secret-looking assignments;
- by value: every configured secret of the environment and every value registered at run time
  (the smoke account's password, the tokens the smoke journey receives).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import Any

MASK = "***"
#: values shorter than this are not replaced by value (they would mangle ordinary text)
MIN_SECRET_LEN = 4

_KEY_WORDS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "authorization",
    "cookie",
    "api_key",
    "apikey",
    "api-key",
    "private_key",
    "privatekey",
    "credential",
    "session_id",
    "sessionid",
    "x-auth",
    "signature",
)
#: keys that contain a credential word but are not credentials (booleans/counts about them)
_NOT_SECRET_KEYS = {"token_type", "tokens", "secret_names", "required_secrets", "token_present"}

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # JSON Web Tokens (header.payload.signature, base64url; header always starts with eyJ)
    (re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), MASK),
    # Authorization header values
    (re.compile(r"(?i)\b(bearer)(\s+)[A-Za-z0-9._~+/=-]{6,}"), r"\1\2" + MASK),
    (re.compile(r"(?i)\b(basic)(\s+)(?=[A-Za-z0-9+/]*[0-9+/=])[A-Za-z0-9+/]{8,}={0,2}"), r"\1\2" + MASK),
    # user:password@ in URLs
    (re.compile(r"(?i)([a-z][a-z0-9+.-]*://[^/\s:@]*):[^@/\s]*@"), r"\1:" + MASK + "@"),
    # key=value pairs (DSNs, query strings, env dumps): password=..., token=..., secret=...
    (
        re.compile(
            r"(?i)\b([a-z0-9_]*(?:password|passwd|pwd|secret|token|api_?key|access_?key))\b"
            r"(\s*[=:]\s*)(?!\*\*\*)('[^']*'|\"[^\"]*\"|[^\s&,;'\"}]+)"
        ),
        r"\1\2" + MASK,
    ),
    # PEM private keys
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
        MASK,
    ),
]

_lock = threading.Lock()
_registered: set[str] = set()


def register(*values: str | None) -> None:
    """Add run-time secrets (a generated password, a received token) for the rest of the process."""
    with _lock:
        for value in values:
            if isinstance(value, str) and len(value) >= MIN_SECRET_LEN:
                _registered.add(value)


def registered() -> list[str]:
    with _lock:
        return sorted(_registered, key=len, reverse=True)


def is_secret_key(key: object) -> bool:
    if not isinstance(key, str):
        return False
    low = key.lower()
    if low in _NOT_SECRET_KEYS:
        return False
    return any(word in low for word in _KEY_WORDS)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Replace configured/registered secret values and secret-looking patterns in a string."""
    values = sorted({s for s in (*secrets, *registered()) if s and len(s) >= MIN_SECRET_LEN}, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


def redact(value: Any, secrets: Iterable[str] = ()) -> Any:
    """Redact a JSON-like structure: credential-named keys masked, every string pattern-redacted."""
    secret_list = list(secrets)
    return _walk(value, secret_list, 0)


_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}([T ][0-9:.+Z-]*)?$")


def _maskable(value: Any) -> bool:
    """A credential-named key's value is masked unless it cannot be a credential (flag, count, time)."""
    if value is None or isinstance(value, bool | int | float) or value in ("", [], {}):
        return False
    return not (isinstance(value, str) and _TIMESTAMP.match(value))


def _walk(value: Any, secrets: list[str], depth: int) -> Any:
    if depth > 64:
        return MASK
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for key, inner in value.items():
            if is_secret_key(key) and _maskable(inner):
                out[key] = MASK
            else:
                out[key] = _walk(inner, secrets, depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [_walk(v, secrets, depth + 1) for v in value]
    if isinstance(value, str):
        return redact_text(value, secrets)
    return value
