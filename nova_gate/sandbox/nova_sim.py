"""The Nova simulator: 11 fake Rust services on loopback, with metrics that are a function of time.

Run as ``python -m nova_gate.sandbox.nova_sim``. One process listens on every port of
``ports.SERVICES`` plus an admin port (58099). Each service answers health probes and ``/metrics``
(Prometheus text format); every port also serves the small smoke API (register, login, JWKS, feed,
conversations, messages) backed by the sandbox's real PostgreSQL and Redis.

Metric values are computed from the *active scenario* (``.sandbox/simulator/scenario.json``, written
by ``history.load``) and the runtime knobs (``.sandbox/simulator/knobs.json``): a counter at time t is
the integral of the scenario's request rate from the process start up to t, so the history that
``history.load`` backfills and what Prometheus scrapes live form one continuous series.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from nova_gate.sandbox import ports
from nova_gate.sandbox.sim_auth import KeyRing, check_password, hash_password
from nova_gate.sandbox.sim_backends import Backends, backends
from nova_gate.sandbox.sim_model import Model, render_metrics
from nova_gate.sandbox.sim_state import State, state

ADMIN_PORT = 58099


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# -- HTTP -----------------------------------------------------------------------------------------
_CONV_MSG = re.compile(r"^/api/v1/conversations/([0-9a-fA-F-]{36})/messages$")


class ServiceHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    service = ""
    server_version = "nova-sim/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: Prometheus scrapes a lot
        if os.environ.get("NOVA_SIM_ACCESS_LOG"):
            super().log_message(format, *args)

    # plumbing
    def _send(self, status: int, body: Any, content_type: str = "application/json", close: bool = False) -> None:
        data = (
            body if isinstance(body, bytes) else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
        )
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _json_body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > 1_000_000:
            raise ApiError(413, "body too large")
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ApiError(400, "invalid JSON body") from exc
        if not isinstance(data, dict):
            raise ApiError(400, "expected a JSON object")
        return data

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_HEAD(self) -> None:
        self._dispatch("GET")

    def _dispatch(self, method: str) -> None:
        path = urlsplit(self.path).path
        st = state()
        model = st.current()
        now = time.time()
        if model.is_down(self.service, now):
            # drain the body so the client sees the answer, then close: the target is down
            with contextlib.suppress(Exception):
                length = int(self.headers.get("Content-Length") or 0)
                if 0 < length <= 1_000_000:
                    self.rfile.read(length)
            self._send(503, {"status": "down", "service": self.service}, close=True)
            return
        try:
            if method == "GET" and path == "/metrics":
                self._send(200, render_metrics(model, self.service, now), "text/plain; version=0.0.4")
                return
            if method == "GET" and path in ("/api/v1/health", "/api/v1/health/live", "/api/v1/health/ready"):
                self._health(model, path, now)
                return
            self._api(method, path, st)
        except ApiError as exc:
            self._send(exc.status, {"error": str(exc)})
        except Exception as exc:  # an API bug must answer 500, not hang the client
            print(f"nova-sim: {self.service} {method} {path}: {type(exc).__name__}: {exc}", flush=True)
            self._send(500, {"error": "internal error"})

    def _health(self, model: Model, path: str, now: float) -> None:
        versions = {
            v: ("crashloop" if t.crash_down(now) else "up")
            for v, t in model.service_tracks(self.service)
            if not t.params_at(now).get("absent")
        }
        healthy = all(s == "up" for s in versions.values())
        kind = path.rsplit("/", 1)[-1]
        body = {
            "status": "ok" if healthy else "unavailable",
            "service": self.service,
            "check": "health" if kind == "health" else kind,
            "versions": versions,
            "scenario": model.name,
        }
        self._send(200 if healthy else 503, body)

    # smoke API ----------------------------------------------------------------------------------
    def _api(self, method: str, path: str, st: State) -> None:
        knob = st.live_knob(self.service)
        if knob.get("latency_ms"):
            time.sleep(min(float(knob["latency_ms"]), 30_000) / 1000)
        if knob.get("error_rate") and secrets.randbelow(1_000_000) < float(knob["error_rate"]) * 1_000_000:
            raise ApiError(500, "injected error")
        be = backends()
        if method == "GET" and path == "/.well-known/jwks.json":
            self._send(200, be.keys.jwks())
        elif method == "POST" and path == "/api/v1/auth/register":
            self._register(be, self._json_body())
        elif method == "POST" and path == "/api/v1/auth/login":
            self._login(be, self._json_body())
        elif method == "GET" and path == "/api/v1/feed":
            self._feed(be, self._authenticate(be))
        elif method == "POST" and path == "/api/v1/conversations":
            user = self._authenticate(be)
            self._create_conversation(be, user, self._json_body())
        elif method == "POST" and (m := _CONV_MSG.match(path)):
            user = self._authenticate(be)
            self._post_message(be, user, m.group(1), self._json_body())
        elif method == "GET" and path == "/":
            self._send(200, {"service": self.service})
        else:
            raise ApiError(404, f"no route {method} {path}")

    @staticmethod
    def _db_error(exc: Exception) -> ApiError:
        return ApiError(503, f"database unavailable: {type(exc).__name__}")

    def _register(self, be: Backends, body: dict[str, Any]) -> None:
        import psycopg

        email, username, password = (str(body.get(k) or "") for k in ("email", "username", "password"))
        if "@" not in email or not (3 <= len(username) <= 64) or len(password) < 6:
            raise ApiError(400, "email, username (3-64 chars) and password (>= 6 chars) are required")
        try:
            with be.pool.connection() as conn:
                row = conn.execute(
                    "INSERT INTO users (email, username, password_hash, created_at)"
                    " VALUES (%s, %s, %s, now()) RETURNING id",
                    (email, username, hash_password(password)),
                ).fetchone()
        except psycopg.errors.UniqueViolation as exc:
            raise ApiError(409, "email or username already registered") from exc
        except psycopg.Error as exc:
            raise self._db_error(exc) from exc
        self._send(201, {"id": row[0], "email": email, "username": username})

    def _login(self, be: Backends, body: dict[str, Any]) -> None:
        import psycopg

        email, password = str(body.get("email") or ""), str(body.get("password") or "")
        try:
            with be.pool.connection() as conn:
                row = conn.execute("SELECT id, password_hash FROM users WHERE email = %s", (email,)).fetchone()
                if row is None or not check_password(password, row[1]):
                    raise ApiError(401, "invalid credentials")
                session_id = uuid.uuid4()
                conn.execute(
                    "INSERT INTO sessions (id, user_id, created_at, expires_at)"
                    " VALUES (%s, %s, now(), now() + make_interval(secs => %s))",
                    (session_id, row[0], KeyRing.TTL),
                )
        except psycopg.Error as exc:
            raise self._db_error(exc) from exc
        with contextlib.suppress(Exception):  # the cache is an optimisation; the DB is the truth
            be.redis.set(f"nova:session:{session_id}", json.dumps({"user_id": row[0]}), ex=KeyRing.TTL)
        now = int(time.time())
        claims = {
            "iss": KeyRing.ISSUER,
            "aud": KeyRing.AUDIENCE,
            "sub": str(row[0]),
            "sid": str(session_id),
            "iat": now,
            "exp": now + KeyRing.TTL,
            "jti": uuid.uuid4().hex,
        }
        self._send(200, {"access_token": be.keys.sign(claims), "token_type": "Bearer", "expires_in": KeyRing.TTL})

    def _authenticate(self, be: Backends) -> int:
        import psycopg

        auth = self.headers.get("Authorization") or ""
        if not auth.startswith("Bearer "):
            raise ApiError(401, "missing bearer token")
        try:
            claims = be.keys.verify(auth[7:].strip())
        except PermissionError as exc:
            raise ApiError(401, f"invalid token: {exc}") from exc
        sid = str(claims.get("sid", ""))
        with contextlib.suppress(Exception):
            cached = be.redis.get(f"nova:session:{sid}")
            if cached:
                return int(json.loads(cached)["user_id"])
        try:
            with be.pool.connection() as conn:
                row = conn.execute(
                    "SELECT user_id FROM sessions WHERE id = %s AND expires_at > now()", (uuid.UUID(sid),)
                ).fetchone()
        except ValueError as exc:
            raise ApiError(401, "invalid session") from exc
        except psycopg.Error as exc:
            raise self._db_error(exc) from exc
        if row is None:
            raise ApiError(401, "session expired")
        with contextlib.suppress(Exception):
            be.redis.set(f"nova:session:{sid}", json.dumps({"user_id": row[0]}), ex=300)
        return int(row[0])

    def _feed(self, be: Backends, user_id: int) -> None:
        import psycopg

        try:
            with be.pool.connection() as conn:
                rows = conn.execute(
                    "SELECT p.id, p.author_id, p.body, f.score, p.created_at FROM feed_items f"
                    " JOIN posts p ON p.id = f.post_id WHERE f.user_id = %s"
                    " ORDER BY f.score DESC, f.created_at DESC LIMIT 50",
                    (user_id,),
                ).fetchall()
        except psycopg.Error as exc:
            raise self._db_error(exc) from exc
        items = [
            {
                "post_id": r[0],
                "author_id": r[1],
                "body": r[2],
                "score": float(r[3]),
                "created_at": r[4].isoformat(),
            }
            for r in rows
        ]
        self._send(200, items)

    def _create_conversation(self, be: Backends, user_id: int, body: dict[str, Any]) -> None:
        import psycopg

        members = {user_id}
        for m in body.get("members") or []:
            try:
                members.add(int(m))
            except (TypeError, ValueError) as exc:
                raise ApiError(400, "members must be user ids") from exc
        conv_id = uuid.uuid4()
        try:
            with be.pool.connection() as conn, conn.transaction():
                conn.execute("INSERT INTO conversations (id, created_at) VALUES (%s, now())", (conv_id,))
                for m in sorted(members):
                    conn.execute(
                        "INSERT INTO conversation_members (conversation_id, user_id) VALUES (%s, %s)",
                        (conv_id, m),
                    )
        except psycopg.errors.ForeignKeyViolation as exc:
            raise ApiError(400, "unknown member") from exc
        except psycopg.Error as exc:
            raise self._db_error(exc) from exc
        self._send(201, {"id": str(conv_id), "members": sorted(members)})

    def _post_message(self, be: Backends, user_id: int, conv: str, body: dict[str, Any]) -> None:
        import psycopg

        content = body.get("content")
        if not isinstance(content, str) or not content.strip():
            raise ApiError(400, "content is required")
        try:
            conv_id = uuid.UUID(conv)
            with be.pool.connection() as conn:
                member = conn.execute(
                    "SELECT 1 FROM conversation_members WHERE conversation_id = %s AND user_id = %s",
                    (conv_id, user_id),
                ).fetchone()
                if member is None:
                    exists = conn.execute("SELECT 1 FROM conversations WHERE id = %s", (conv_id,)).fetchone()
                    raise ApiError(403 if exists else 404, "not a member" if exists else "no such conversation")
                row = conn.execute(
                    "INSERT INTO messages (conversation_id, sender_id, content, created_at)"
                    " VALUES (%s, %s, %s, now()) RETURNING id, created_at",
                    (conv_id, user_id, content),
                ).fetchone()
        except psycopg.Error as exc:
            raise self._db_error(exc) from exc
        self._send(
            201,
            {
                "id": row[0],
                "conversation_id": str(conv_id),
                "sender_id": user_id,
                "content": content,
                "created_at": row[1].isoformat(),
            },
        )


class AdminHandler(ServiceHandler):
    """Port 58099: runtime knobs (faults use them), key rotation, the active scenario."""

    def _dispatch(self, method: str) -> None:
        path = urlsplit(self.path).path
        st = state()
        try:
            if path == "/admin/knobs" and method == "GET":
                self._send(200, st.knob_state())
            elif path == "/admin/knobs" and method == "POST":
                self._send(200, st.set_knob(self._json_body()))
            elif path == "/admin/knobs/reset" and method == "POST":
                st.reset_knobs()
                self._send(200, st.knob_state())
            elif path == "/admin/jwks" and method == "POST":
                body = self._json_body()
                ring = backends().keys
                if body.get("rotate") == "without-overlap":
                    ring.rotate_without_overlap()
                elif body.get("restore"):
                    ring.restore()
                else:
                    ring.set_next(bool(body.get("next")))
                self._send(200, backends().keys.jwks())
            elif path == "/admin/scenario" and method == "GET":
                model = st.current()
                self._send(200, {**st.scenario_meta, "versions": model.versions})
            elif path in ("/admin/health", "/") and method == "GET":
                self._send(200, {"status": "ok", "pid": os.getpid()})
            else:
                raise ApiError(404, f"no route {method} {path}")
        except ApiError as exc:
            self._send(exc.status, {"error": str(exc)})
        except (ValueError, TypeError) as exc:
            self._send(400, {"error": str(exc)})

    def do_DELETE(self) -> None:
        if urlsplit(self.path).path == "/admin/knobs":
            state().reset_knobs()
            self._send(200, {})
        else:
            self._send(404, {"error": "no route"})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


def serve() -> None:
    state().current()
    servers: list[Server] = []
    for service, port in ports.SERVICES.items():
        handler = type(f"Handler_{port}", (ServiceHandler,), {"service": service})
        servers.append(Server((ports.HOST, port), handler))
    servers.append(Server((ports.HOST, ADMIN_PORT), AdminHandler))
    threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.5}, daemon=True) for s in servers]
    for th in threads:
        th.start()
    print(
        f"nova-sim: pid {os.getpid()} serving {len(ports.SERVICES)} services and admin :{ADMIN_PORT}",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        for s in servers:
            s.shutdown()


if __name__ == "__main__":
    serve()
