"""A small ClickHouse HTTP interface in front of chdb (the ClickHouse engine as a library).

Run as ``python -m nova_gate.sandbox.chdb_server --data DIR --port 58123``. It speaks enough of the
HTTP protocol for clickhouse-connect: SQL in the ``query`` parameter and/or the body, ``database``,
``default_format``, ``query_id``, ``param_*`` (server-side parameters), inserts whose data is in the
body (optionally lz4/zstd/gzip compressed), ``/ping``; it answers with chdb's output in the asked
format and the ``X-ClickHouse-*`` headers the client reads. chdb keeps one session per process, so
queries are serialized with a lock; the server is threaded so that many clients can wait at once.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import re
import tempfile
import threading
import time
import uuid
import zlib
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


class Engine:
    """One chdb session; every query runs under the lock."""

    def __init__(self, data: Path) -> None:
        from chdb import session

        data.mkdir(parents=True, exist_ok=True)
        self.session = session.Session(str(data))
        self.lock = threading.Lock()
        self.tmp = data.parent / "chdb-server-tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    def run(self, sql: str, fmt: str, database: str, params: dict[str, str], data: bytes | None) -> Any:
        with self.lock:
            self.session.query(f"USE {database}")
            for name, value in params.items():
                escaped = value.replace("\\", "\\\\").replace("'", "\\'")
                self.session.query(f"SET param_{name} = '{escaped}'")
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


ENGINE: Engine | None = None


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
            result = engine.run(sql, fmt, database, params, data)
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


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def main() -> None:
    global ENGINE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=58123)
    args = parser.parse_args()
    ENGINE = Engine(args.data)
    server = Server((args.host, args.port), Handler)
    print(f"chdb-server: pid {os.getpid()} on {args.host}:{args.port}, data {args.data}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever(poll_interval=0.5)


if __name__ == "__main__":
    main()
