"""The simulator's PostgreSQL pool and Redis client (the smoke API's storage), as the app's own identity."""

from __future__ import annotations

import contextlib
import functools
import os
import queue
from typing import Any

from nova_gate.sandbox import ports
from nova_gate.sandbox.sim_auth import KeyRing
from nova_gate.sandbox.sim_model import state_root


# -- database and cache -------------------------------------------------------------------------
def _ca_file() -> str:
    from nova_gate.sandbox.base import state_dir

    return str(state_dir() / "pki" / "ca.crt")


PG_DSN = os.environ.get(
    "NOVA_SIM_PG_DSN",
    f"host=127.0.0.1 port={ports.POSTGRES_PRIMARY} dbname=nova user=nova_smoke "
    "password=sandbox-smoke-secret connect_timeout=3 application_name=nova-sim "
    f"sslmode=verify-full sslrootcert={_ca_file()}",
)


#: the app's own Redis account (nova_gate/sandbox/identities.py), over TLS
REDIS_URL = os.environ.get("NOVA_SIM_REDIS_URL", f"rediss://127.0.0.1:{ports.REDIS}/0")


class Pool:
    """A tiny thread-safe psycopg connection pool (autocommit connections, statement timeout)."""

    def __init__(self, dsn: str, size: int = 8) -> None:
        self.dsn = dsn
        self.idle: queue.LifoQueue[Any] = queue.LifoQueue(maxsize=size)

    @contextlib.contextmanager
    def connection(self) -> Any:
        import psycopg

        try:
            conn = self.idle.get_nowait()
        except queue.Empty:
            conn = psycopg.connect(self.dsn, autocommit=True, options="-c statement_timeout=5000")
        ok = False
        try:
            yield conn
            ok = True
        finally:
            if ok and not conn.closed and conn.info.transaction_status == 0:
                try:
                    self.idle.put_nowait(conn)
                except queue.Full:
                    conn.close()
            else:
                with contextlib.suppress(Exception):
                    conn.close()


class Backends:
    def __init__(self) -> None:
        self.pool = Pool(PG_DSN)
        self._redis: Any = None
        self.keys = KeyRing(state_root() / "jwt-signing-key.pem")

    @property
    def redis(self) -> Any:
        if self._redis is None:
            import redis

            from nova_gate.sandbox.identities import REDIS_APP

            self._redis = redis.Redis.from_url(
                REDIS_URL,
                socket_timeout=2,
                socket_connect_timeout=2,
                username=REDIS_APP.user,
                password=REDIS_APP.password,
                **({"ssl_ca_certs": _ca_file()} if REDIS_URL.startswith("rediss://") else {}),
            )
        return self._redis


@functools.cache
def backends() -> Backends:
    """The process' one Backends (made on first use)."""
    return Backends()
