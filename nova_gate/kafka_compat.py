"""Four faults of kafka-python 3.0, closed at our boundary.

1. A leaked socket on every failed connect (below).
2. A broker's last answer thrown away: ``KafkaTCPTransport._read_from_sock`` aborts the
   connection when the socket reports end-of-file (or an error) in the same read as data, and the
   data read before it is dropped. A broker that refuses a SASL login answers the
   SaslAuthenticate request with ``SASL_AUTHENTICATION_FAILED`` and then closes the connection
   (after ``connection.failed.authentication.delay.ms``, 100 ms by default); a client that reads
   late (a busy IO thread, e.g. while other backends are probed concurrently) gets both at once,
   loses the refusal, sees "socket disconnected", retries until its bootstrap times out and says
   "Unable to bootstrap" instead of "authentication failed". ``deliver_data_before_disconnect``
   hands the data to the protocol first and reports the disconnect on the next read.
3. A refused login retried until the bootstrap times out. The connection manager keeps a
   "sticky" authentication failure per broker (``_auth_failures``; ``get_connection`` raises it
   instead of dialling again), but records it only when ``_connect`` itself raises, and it never
   does: ``KafkaConnection.initialize`` turns the broker's ``SASL_AUTHENTICATION_FAILED`` into a
   failed ``init_future``. The bootstrap loop then catches the failure and dials again, each time
   refused, until ``bootstrap_timeout_ms`` (the gates' whole ``timeout_s``) has gone by.
   ``fail_fast_on_refused_login`` records the failure from ``init_future``, so the next bootstrap
   attempt at that broker raises it: the client fails in well under a second, with the broker's
   own words, and a broker that accepted the same login later clears it as before.
4. A TLS handshake without a deadline: ``KafkaSSLTransport.handshake`` waits for the socket with
   no timeout, and the connection's setup timeout covers the TCP connect and the Kafka requests
   after it, not the handshake between them. A listener that accepts and never answers (a black
   hole, an overloaded broker, a proxy that lost its upstream) then hangs the bootstrap for ever:
   every test that asks Kafka waits out its pytest timeout, and the source never learns the broker
   is down. ``bound_tls_handshake`` gives the handshake the source's timeout and closes the socket
   when it fails.

The leak:

``kafka.net.inet.KafkaNetSocket.connect`` creates a non-blocking socket and, when the connect
fails (refused: a broker is down; timed out: a black hole), raises without closing it. Every
attempt to reach a dead broker then leaves an unclosed socket for the garbage collector, which
warns ``ResourceWarning: unclosed <socket ... laddr=('0.0.0.0', ...)>`` at a random later moment:
under ``filterwarnings = error`` some unrelated test fails. The wrapper closes the socket whenever
the connect does not hand it back.
"""

from __future__ import annotations

import contextlib
import ssl
import time
from typing import Any

_MARK = "_nova_gate_closes_failed_sockets"
_DATA_FIRST = "_nova_gate_delivers_data_first"
_PENDING = "_nova_gate_pending_error"
_BOUNDED = "_nova_gate_bounded_handshake"
#: the TLS handshake's deadline, seconds (the Kafka source sets its timeout)
HANDSHAKE_TIMEOUT_S = 10.0


def close_failed_connect_sockets() -> None:
    """Patch kafka-python's connect (once) so that a failed connect closes its socket."""
    try:
        from kafka.net import inet
    except ImportError:  # another kafka-python line: nothing to patch
        return
    cls: Any = getattr(inet, "KafkaNetSocket", None)
    original = getattr(cls, "sock_connect", None)
    if original is None or getattr(original, _MARK, False):
        return

    async def sock_connect(self: Any, net: Any, sock: Any, sockaddr: Any, timeout_at: Any = None) -> Any:
        try:
            return await original(self, net, sock, sockaddr, timeout_at=timeout_at)
        except BaseException:  # refused, timed out, or the connect was cancelled: the socket is ours
            with contextlib.suppress(OSError):
                sock.close()
            raise

    setattr(sock_connect, _MARK, True)
    cls.sock_connect = sock_connect


def deliver_data_before_disconnect() -> None:
    """Patch the transports' ``_sock_recv`` (once each) so that data read together with a
    disconnect reaches the protocol; the disconnect is reported by the next read."""
    try:
        from kafka.net import transport
    except ImportError:  # another kafka-python line: nothing to patch
        return
    for name in ("KafkaTCPTransport", "KafkaSSLTransport"):
        cls: Any = getattr(transport, name, None)
        original = None if cls is None else cls.__dict__.get("_sock_recv")
        if original is None or getattr(original, _DATA_FIRST, False):
            continue
        cls._sock_recv = _data_first(original)


def _data_first(original: Any) -> Any:
    def _sock_recv(self: Any) -> tuple[bytes, Any]:
        pending = getattr(self, _PENDING, None)
        if pending is not None:
            setattr(self, _PENDING, None)
            return b"", pending
        data, err = original(self)
        if data and err is not None:
            setattr(self, _PENDING, err)  # the socket stays readable (EOF/error): the next read reports it
            return data, None
        return data, err

    setattr(_sock_recv, _DATA_FIRST, True)
    return _sock_recv


def bound_tls_handshake(timeout_s: float) -> None:
    """Patch ``KafkaSSLTransport.handshake`` (once) to fail after ``timeout_s`` and close its socket."""
    global HANDSHAKE_TIMEOUT_S
    HANDSHAKE_TIMEOUT_S = timeout_s
    try:
        from kafka.net import transport
    except ImportError:  # another kafka-python line: nothing to patch
        return
    cls: Any = getattr(transport, "KafkaSSLTransport", None)
    original = None if cls is None else cls.__dict__.get("handshake")
    if original is None or getattr(original, _BOUNDED, False):
        return

    async def handshake(self: Any) -> None:
        deadline = time.monotonic() + HANDSHAKE_TIMEOUT_S
        try:
            while True:
                try:
                    self._sock.do_handshake()
                    return
                except ssl.SSLWantReadError:
                    await self._net.wait_read(self._sock, deadline)
                except ssl.SSLWantWriteError:
                    await self._net.wait_write(self._sock, deadline)
        except BaseException:  # timed out, refused, bad certificate: nobody else closes this socket
            with contextlib.suppress(OSError):
                self._sock.close()
            raise

    setattr(handshake, _BOUNDED, True)
    cls.handshake = handshake


_STICKY = "_nova_gate_sticky_auth_failures"


def fail_fast_on_refused_login() -> None:
    """Patch the connection manager's ``_connect`` (once) so that a SASL or authorisation refusal
    delivered through the connection's ``init_future`` becomes the broker's sticky auth failure."""
    try:
        from kafka import errors
        from kafka.net import manager
    except ImportError:  # another kafka-python line: nothing to patch
        return
    cls: Any = getattr(manager, "KafkaConnectionManager", None)
    original = None if cls is None else cls.__dict__.get("_connect")
    failures = getattr(cls, "maybe_raise_auth_failure", None)
    if original is None or failures is None or getattr(original, _STICKY, False):
        return
    refused = tuple(
        e for e in (getattr(errors, "SaslAuthenticationFailedError", None), getattr(errors, "AuthorizationError", None))
        if isinstance(e, type)
    )

    async def _connect(self: Any, node: Any, conn: Any, *args: Any, **kwargs: Any) -> Any:
        result = await original(self, node, conn, *args, **kwargs)
        future = getattr(conn, "init_future", None)
        error = getattr(future, "exception", None) if future is not None and future.is_done else None
        store = getattr(self, "_auth_failures", None)
        if isinstance(error, refused) and isinstance(store, dict):
            store[node.node_id] = error
        return result

    setattr(_connect, _STICKY, True)
    cls._connect = _connect
