"""A small ClickHouse HTTP interface in front of chdb (the ClickHouse engine as a library).

Run as ``python -m nova_gate.sandbox.chdb_server --data DIR --port 58123``. It speaks enough of the
HTTP protocol for clickhouse-connect: SQL in the ``query`` parameter and/or the body, ``database``,
``default_format``, ``query_id``, ``param_*`` (server-side parameters), inserts whose data is in the
body (optionally lz4/zstd/gzip compressed), ``/ping``; it answers with chdb's output in the asked
format and the ``X-ClickHouse-*`` headers the client reads. chdb keeps one session per process, so
queries are serialized with a lock; the server is threaded so that many clients can wait at once.

Locked like a production ClickHouse when given ``--users FILE`` (JSON ``{"users": {NAME:
{"password_sha256_hex": HEX, "readonly": 0|1}}}``, as users.xml's ``password_sha256_hex``): every
query needs a known user and its password, sent the ways ClickHouse's HTTP interface takes them
(``X-ClickHouse-User``/``X-ClickHouse-Key`` headers, HTTP Basic auth, or ``user``/``password``
parameters); a wrong one is ``Code: 516 AUTHENTICATION_FAILED`` (HTTP 401). A ``readonly: 1`` user may
run only what ClickHouse's ``readonly=1`` allows (SELECT, SHOW, DESCRIBE, EXISTS, EXPLAIN, USE), decided
on ClickHouse's own parse of the statement (``EXPLAIN AST``); anything else is ``Code: 164 READONLY``
(HTTP 403). With ``--tls-cert``/``--tls-key`` it speaks HTTPS (each handshake in the request's thread,
so a silent client cannot stall the others). ``/ping`` answers without credentials, as ClickHouse's does.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import gzip
import hashlib
import hmac
import json
import os
import re
import socket
import ssl
import tempfile
import threading
import time
import uuid
import zlib
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

#: parameters that steer the HTTP transport, not the query
TRANSPORT_PARAMS = {
    "query",
    "database",
    "default_format",
    "query_id",
    "session_id",
    "session_timeout",
    "session_check",
    "compress",
    "decompress",
    "enable_http_compression",
    "client_protocol_version",
    "user",
    "password",
    "wait_end_of_query",
    "send_progress_in_http_headers",
    "http_headers_progress_interval_ms",
    "buffer_size",
    "quota_key",
    "role",
}
_FORMAT = re.compile(r"\bFORMAT\s+([A-Za-z][A-Za-z0-9]*)\s*;?\s*$", re.IGNORECASE)
_INSERT = re.compile(r"^\s*(INSERT\s+INTO\s+.+?)\s+FORMAT\s+([A-Za-z][A-Za-z0-9]*)\s*$", re.IGNORECASE | re.DOTALL)
_INSERT_HEAD = re.compile(rb"^\s*(INSERT\s+INTO\s+[^\n]+?\s+FORMAT\s+[A-Za-z][A-Za-z0-9]*)[ \t]*\r?\n", re.IGNORECASE)
_CODE = re.compile(r"Code:\s*(\d+)")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
CONTENT_TYPES = {
    "JSON": "application/json; charset=UTF-8",
    "JSONCompact": "application/json; charset=UTF-8",
    "JSONEachRow": "application/x-ndjson; charset=UTF-8",
    "TabSeparated": "text/tab-separated-values; charset=UTF-8",
    "CSV": "text/csv; charset=UTF-8; header=absent",
}


#: statement kinds (the root of ClickHouse's ``EXPLAIN AST``) that ``readonly=1`` allows
READONLY_KINDS = (
    "SelectWithUnionQuery", "SelectIntersectExceptQuery", "ShowTables", "ShowProcesslistQuery",
    "ShowCreate", "DescribeQuery", "Exists", "Explain", "UseQuery",
)


class AuthError(Exception):
    """Authentication (516, HTTP 401) or permission (164/497, HTTP 403) refused."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class User:
    name: str
    password_sha256_hex: str
    readonly: bool


def load_users(path: Path) -> dict[str, User]:
    doc = json.loads(path.read_text())
    return {
        name: User(name, str(spec["password_sha256_hex"]).lower(), bool(spec.get("readonly", 0)))
        for name, spec in doc["users"].items()
    }


def credentials(headers: Any, args: dict[str, str]) -> tuple[str, str]:
    """(user, password) the way ClickHouse's HTTP interface accepts them; ``default`` and ''."""
    user = headers.get("X-ClickHouse-User")
    if user is not None:
        return user, headers.get("X-ClickHouse-Key") or ""
    auth = headers.get("Authorization") or ""
    if auth[:6].lower() == "basic ":
        try:
            name, _, password = base64.b64decode(auth[6:].strip(), validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise AuthError("516", "Authentication failed: malformed Basic credentials") from None
        return name, password
    return args.get("user") or "default", args.get("password") or ""


def authenticate(users: dict[str, User], name: str, password: str) -> User:
    user = users.get(name)
    digest = hashlib.sha256(password.encode()).hexdigest()
    if user is None or not hmac.compare_digest(digest, user.password_sha256_hex):
        raise AuthError(
            "516",
            f"{name}: Authentication failed: password is incorrect, or there is no user with such name."
            " (AUTHENTICATION_FAILED)",
        )
    return user


class Engine:
    """One chdb session; every query runs under the lock."""

    def __init__(self, data: Path) -> None:
        from chdb import session

        data.mkdir(parents=True, exist_ok=True)
        self.session = session.Session(str(data))
        self.lock = threading.Lock()
        self.tmp = data.parent / "chdb-server-tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    def run(
        self,
        sql: str,
        fmt: str,
        database: str,
        params: dict[str, str],
        data: bytes | None,
        user: User | None = None,
    ) -> Any:
        with self.lock:
            self.session.query(f"USE {database}")
            for name, value in params.items():
                escaped = value.replace("\\", "\\\\").replace("'", "\\'")
                self.session.query(f"SET param_{name} = '{escaped}'")
            if user is not None and user.readonly:
                self._check_readonly(sql, data, user)
            if data is None:
                return self.session.query(sql, fmt)
            match = _INSERT.match(sql)
            if not match:
                raise ValueError("Code: 62. DB::Exception: data in the body needs INSERT ... FORMAT <fmt>")
            fd, path = tempfile.mkstemp(dir=self.tmp, suffix=f".{match.group(2)}")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                return self.session.query(f"{match.group(1)} SELECT * FROM file('{path}', '{match.group(2)}')", fmt)
            finally:
                os.unlink(path)


    def _check_readonly(self, sql: str, data: bytes | None, user: User) -> None:
        denied = AuthError("164", f"{user.name}: Cannot execute query in readonly mode. (READONLY)")
        if data is not None:
            raise denied
        bare = _FORMAT.sub("", sql).strip().rstrip(";")
        try:
            tree = self.session.query(f"EXPLAIN AST {bare}", "TabSeparated").bytes().decode()
        except Exception:
            raise denied from None  # what ClickHouse cannot parse is not known to be a read
        kind = (tree.splitlines() or [""])[0].strip()
        if not kind.startswith(READONLY_KINDS):
            raise denied


ENGINE: Engine | None = None
USERS: dict[str, User] | None = None  # None: open (no --users), as before the sandbox was locked


def _decompress(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if not encoding or encoding == "identity":
        return body
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "lz4":
        import lz4.frame

        return bytes(lz4.frame.decompress(body))
    if encoding == "zstd":
        try:
            from compression import zstd
        except ImportError:
            from backports import zstd
        return bytes(zstd.decompress(body))
    raise ValueError(f"Code: 36. DB::Exception: unsupported Content-Encoding {encoding!r}")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nova-chdb"

    def log_message(self, format: str, *args: Any) -> None:
        if os.environ.get("CHDB_SERVER_ACCESS_LOG"):
            super().log_message(format, *args)

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:  # bounded by the client closing or sending the 0-length chunk
                size_line = self.rfile.readline(1024)
                if not size_line:
                    break
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def _handle(self) -> None:
        url = urlsplit(self.path)
        if url.path in ("/ping", "/replicas_status"):
            self._send(200, b"Ok.\n", {"Content-Type": "text/plain; charset=UTF-8"})
            return
        if url.path not in ("/", ""):
            self._send(404, b"There is no handle " + url.path.encode() + b"\n")
            return
        args = dict(parse_qsl(url.query, keep_blank_values=True))
        body = self._read_body()
        query_id = args.get("query_id") or str(uuid.uuid4())
        base_headers = {
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Server-Display-Name": "nova-chdb",
            "X-ClickHouse-Timezone": "UTC",
        }
        user: User | None = None
        try:
            if USERS is not None:
                user = authenticate(USERS, *credentials(self.headers, args))
        except AuthError as exc:
            self._refuse(exc, base_headers)
            return
        try:
            body = _decompress(body, self.headers.get("Content-Encoding") or "")
            url_sql = args.get("query", "")
            head = _INSERT_HEAD.match(body) if not url_sql else None
            if url_sql and body and _INSERT.match(url_sql):
                sql, data = url_sql, body
            elif head:  # "INSERT INTO t (...) FORMAT Native\n<data>" all in the body
                sql, data = head.group(1).decode(), body[head.end() :]
            else:
                sql, data = (url_sql + ("\n" if url_sql and body else "") + body.decode()).strip(), None
            if not sql:
                self._send(200, b"Ok.\n", {"Content-Type": "text/plain; charset=UTF-8"})
                return
            database = args.get("database") or "default"
            if not _IDENT.match(database):
                raise ValueError(f"Code: 81. DB::Exception: Database {database} does not exist. (UNKNOWN_DATABASE)")
            params = {k[6:]: v for k, v in args.items() if k.startswith("param_")}
            match = _FORMAT.search(sql) if data is None else None
            fmt = match.group(1) if match else (args.get("default_format") or "TabSeparated")
            started = time.monotonic()
            engine = ENGINE
            assert engine is not None
            result = engine.run(sql, fmt, database, params, data, user)
            out = result.bytes() if result is not None else b""
            summary = {
                "read_rows": str(result.rows_read()) if result is not None else "0",
                "read_bytes": str(result.bytes_read()) if result is not None else "0",
                "written_rows": "0",
                "written_bytes": "0",
                "total_rows_to_read": "0",
                "result_rows": "0",
                "result_bytes": str(len(out)),
                "elapsed_ns": str(int((time.monotonic() - started) * 1e9)),
            }
            headers = {
                **base_headers,
                "Content-Type": CONTENT_TYPES.get(fmt, "application/octet-stream"),
                "X-ClickHouse-Summary": json.dumps(summary),
            }
            if out or data is None:
                headers["X-ClickHouse-Format"] = fmt
            self._send(200, out, headers)
        except AuthError as exc:
            self._refuse(exc, base_headers)
        except Exception as exc:  # chdb raises its own error type with ClickHouse's message
            text = " ".join(str(exc).split()) or type(exc).__name__
            code_match = _CODE.search(text)
            code = code_match.group(1) if code_match else "1002"
            if not text.startswith("Code:"):
                text = f"Code: {code}. DB::Exception: {text}"
            status = 404 if code in ("60", "81") else (400 if code in ("62", "36", "47") else 500)
            self._send(
                status,
                (text + "\n").encode(),
                {
                    **base_headers,
                    "Content-Type": "text/plain; charset=UTF-8",
                    "X-ClickHouse-Exception-Code": code,
                },
            )


    def _refuse(self, exc: AuthError, base_headers: dict[str, str]) -> None:
        text = f"Code: {exc.code}. DB::Exception: {exc}"
        headers = {**base_headers, "Content-Type": "text/plain; charset=UTF-8", "X-ClickHouse-Exception-Code": exc.code}
        if exc.code == "516":
            headers["WWW-Authenticate"] = 'Basic realm="ClickHouse"'
        self._send(401 if exc.code == "516" else 403, (text + "\n").encode(), headers)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    tls: ssl.SSLContext | None = None
    handshake_timeout_s = 10.0

    def finish_request(self, request: Any, client_address: Any) -> None:
        """In the request's own thread: the TLS handshake (if any), then HTTP."""
        if self.tls is not None:
            assert isinstance(request, socket.socket)
            request.settimeout(self.handshake_timeout_s)
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                with contextlib.suppress(OSError):
                    request.close()
                return
            request.settimeout(None)
        super().finish_request(request, client_address)


def main() -> None:
    global ENGINE, USERS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=58123)
    parser.add_argument("--users", type=Path, help="JSON users file; without it every query is allowed")
    parser.add_argument("--tls-cert", type=Path)
    parser.add_argument("--tls-key", type=Path)
    args = parser.parse_args()
    USERS = load_users(args.users) if args.users else None
    ENGINE = Engine(args.data)
    server = Server((args.host, args.port), Handler)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        server.tls = ctx
    scheme = "https" if args.tls_cert else "http"
    auth = f"{len(USERS)} users" if USERS is not None else "no authentication"
    print(f"chdb-server: pid {os.getpid()} on {scheme}://{args.host}:{args.port}, {auth}, data {args.data}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever(poll_interval=0.5)


if __name__ == "__main__":
    main()
