"""The simulator's auth: RS256 JWTs signed with a rotating key ring (JWKS), PBKDF2 password hashes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any


# -- JWT (RS256 with cryptography) --------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _int_b64(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


class KeyRing:
    """Signing key generated at startup, plus an optional published "next" key (rotation overlap)."""

    ISSUER = os.environ.get("JWT_ISSUER", "https://auth.nova.sandbox")
    AUDIENCE = "nova-api"
    TTL = 3600

    def __init__(self, key_file: Path | None = None) -> None:
        # The signing key survives restarts (a restart is not a key rotation: PRE-CFG-3 would see the
        # old key withdrawn); it lives in the sandbox's git-ignored state, never in the repository.
        self.current = self._load_or_create(key_file) if key_file is not None else self._new_key()
        self.next: Any = None
        self.retired: Any = None  # the key a rotation without overlap withdrew (fault undo)

    @classmethod
    def _load_or_create(cls, path: Path) -> Any:
        from cryptography.hazmat.primitives import serialization

        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            return cls._entry(key)
        entry = cls._new_key()
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = entry["key"].private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        return entry

    @staticmethod
    def _new_key() -> Any:
        from cryptography.hazmat.primitives.asymmetric import rsa

        return KeyRing._entry(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @staticmethod
    def _entry(key: Any) -> Any:
        numbers = key.public_key().public_numbers()
        jwk = {"e": _int_b64(numbers.e), "kty": "RSA", "n": _int_b64(numbers.n)}
        kid = _b64(hashlib.sha256(json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode()).digest())[:16]
        return {"key": key, "kid": kid, "jwk": {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}}

    def set_next(self, enabled: bool) -> None:
        self.next = self._new_key() if enabled and self.next is None else (self.next if enabled else None)

    def rotate_without_overlap(self) -> None:
        """Sign with a brand-new key and withdraw the current one at once (the PRE-CFG-3 fault)."""
        if self.retired is None:
            self.retired, self.current, self.next = self.current, self._new_key(), None

    def restore(self) -> None:
        """Undo :meth:`rotate_without_overlap`: the withdrawn key signs and is published again alone."""
        if self.retired is not None:
            self.current, self.retired, self.next = self.retired, None, None

    def jwks(self) -> dict[str, Any]:
        keys = [self.current["jwk"]] + ([self.next["jwk"]] if self.next else [])
        return {"keys": keys}

    def sign(self, claims: dict[str, Any]) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        header = {"alg": "RS256", "typ": "JWT", "kid": self.current["kid"]}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        sig = self.current["key"].sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64(sig)}"

    def verify(self, token: str) -> dict[str, Any]:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        try:
            head_b64, body_b64, sig_b64 = token.split(".")
            header = json.loads(_unb64(head_b64))
            claims = json.loads(_unb64(body_b64))
        except ValueError as exc:
            raise PermissionError("malformed token") from exc
        if header.get("alg") != "RS256":
            raise PermissionError("unsupported alg")
        keys = {k["kid"]: k for k in (self.current, self.next) if k}
        entry = keys.get(header.get("kid"))
        if entry is None:
            raise PermissionError("unknown kid")
        try:
            entry["key"].public_key().verify(
                _unb64(sig_b64), f"{head_b64}.{body_b64}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except InvalidSignature as exc:
            raise PermissionError("bad signature") from exc
        if claims.get("exp", 0) < time.time() or claims.get("iss") != self.ISSUER:
            raise PermissionError("expired or foreign token")
        if not isinstance(claims, dict):
            raise PermissionError("malformed claims")
        return claims


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 20_000)
    return f"pbkdf2_sha256$20000${_b64(salt)}${_b64(digest)}"


def check_password(password: str, stored: str) -> bool:
    try:
        algo, iterations, salt, digest = stored.split("$")
    except ValueError:
        return False
    if algo != "pbkdf2_sha256":
        return False
    candidate = hashlib.pbkdf2_hmac("sha256", password.encode(), _unb64(salt), int(iterations))
    return hmac.compare_digest(candidate, _unb64(digest))
