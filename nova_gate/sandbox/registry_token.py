"""A small token server for the sandbox's registry, after Docker's token authentication specification.

``GET /token?service=S&scope=repository:NAME:pull,push`` with basic credentials answers
``{"token", "access_token", "expires_in", "issued_at"}``: an RS256 JWT (``x5c`` header: the signing
certificate, issued by the sandbox's CA, which the registry trusts as ``auth.token.rootcertbundle``) whose ``access``
claim holds what was asked for *and* granted to that user — the gates' user gets ``pull`` only, the
sandbox's release user ``pull,push,delete``. Unknown users and wrong passwords get 401; asking for
more than granted is not an error, the token just carries less (as the specification says), and the
registry then refuses the push. https://distribution.github.io/distribution/spec/auth/token/
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import fnmatch
import hashlib
import hmac
import json
import secrets
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

TOKEN_TTL_S = 300


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def password_hash(password: str, salt: str) -> str:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 100_000).hex()


def user_entry(password: str, grants: dict[str, list[str]]) -> dict[str, Any]:
    """One user of the users file: a salted PBKDF2 hash (never the password) and repository grants."""
    salt = secrets.token_hex(8)
    return {"salt": salt, "pbkdf2": password_hash(password, salt), "grants": grants}


class TokenIssuer:
    def __init__(self, users: dict[str, Any], key_pem: bytes, cert_pem: bytes, issuer: str, service: str) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        self.users = users
        self.key: Any = serialization.load_pem_private_key(key_pem, None)
        cert = x509.load_pem_x509_certificate(cert_pem)
        self.x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
        self.issuer = issuer
        self.service = service

    def authenticate(self, authorization: str | None) -> str | None:
        """The user name when the basic credentials are right, else None (constant-time compare)."""
        if not authorization or not authorization.lower().startswith("basic "):
            return None
        try:
            user, _, password = base64.b64decode(authorization[6:].strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        entry = self.users.get(user)
        if not isinstance(entry, dict):
            password_hash(password, "no-such-user")  # same work for unknown users
            return None
        ok = hmac.compare_digest(password_hash(password, entry["salt"]), entry["pbkdf2"])
        return user if ok else None

    def granted(self, user: str, scope: str) -> dict[str, Any] | None:
        """``repository:NAME:a,b`` -> the access entry with the actions this user may have.

        ``registry:catalog:*`` (listing every repository) is granted only by a ``registry:catalog``
        grant: repository patterns never match it, so the gates' pull-only user cannot list.
        """
        parts = scope.split(":")
        if len(parts) < 3 or parts[0] not in ("repository", "registry"):
            return None
        kind, name, actions = parts[0], ":".join(parts[1:-1]), [a for a in parts[-1].split(",") if a]
        allowed: set[str] = set()
        for pattern, acts in self.users[user].get("grants", {}).items():
            if kind == "registry":
                if pattern == f"registry:{name}":
                    allowed.update(acts)
            elif not pattern.startswith("registry:") and fnmatch.fnmatchcase(name, pattern):
                allowed.update(acts)
        given = [a for a in actions if a in allowed or "*" in allowed]
        return {"type": kind, "name": name, "actions": given}

    def token(self, user: str, scopes: list[str], now: float | None = None) -> dict[str, Any]:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        now = time.time() if now is None else now
        access = [g for g in (self.granted(user, s) for s in scopes) if g is not None]
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        claims = {
            "iss": self.issuer,
            "sub": user,
            "aud": self.service,
            "exp": int(now) + TOKEN_TTL_S,
            "nbf": int(now) - 10,
            "iat": int(now),
            "jti": secrets.token_hex(12),
            "access": access,
        }
        signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        token = f"{signing_input}.{b64url(signature)}"
        issued = dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"token": token, "access_token": token, "expires_in": TOKEN_TTL_S, "issued_at": issued}


def make_handler(issuer: TokenIssuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "nova-sandbox-token/1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # no request lines in the log: a query may name scopes, never print credentials

        def _answer(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/healthz":
                self._answer(200, {"ok": True})
                return
            if url.path != "/token":
                self._answer(404, {"errors": [{"code": "NOT_FOUND"}]})
                return
            query = parse_qsl(url.query)
            service = next((v for k, v in query if k == "service"), "")
            if service != issuer.service:
                self._answer(400, {"errors": [{"code": "UNSUPPORTED", "message": "unknown service"}]})
                return
            user = issuer.authenticate(self.headers.get("Authorization"))
            if user is None:
                self._answer(
                    401,
                    {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
                    {"WWW-Authenticate": f'Basic realm="{issuer.service}"'},
                )
                return
            scopes = [s for k, v in query if k == "scope" for s in v.split(" ") if s]
            self._answer(200, issuer.token(user, scopes))

    return Handler


def serve(args: argparse.Namespace) -> None:
    users = json.loads(Path(args.users).read_text())
    issuer = TokenIssuer(users, Path(args.key).read_bytes(), Path(args.cert).read_bytes(), args.issuer, args.service)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(issuer))
    server.daemon_threads = True
    server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nova_gate.sandbox.registry_token")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--users", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--service", required=True)
    serve(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
