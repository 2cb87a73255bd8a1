"""Three faults of kafka-python 3.0, closed at our boundary.

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

3. A TLS handshake without a deadline: ``KafkaSSLTransport.handshake`` waits for the socket with
   no timeout, and the bootstrap checks its own deadline only between attempts. A broker that
   accepts the connection and never answers (a black hole: a partition, an overloaded host) hangs
   the admin client's constructor for good — measured: a gate phase that needs Kafka took 120 s,
   a lone ``describe_cluster`` more than 300 s. ``bound_tls_handshake`` gives every handshake the
   source's timeout; the bootstrap then gives up at its own deadline ("Unable to bootstrap").

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
from typing import Any

_MARK = "_nova_gate_closes_failed_sockets"
_DATA_FIRST = "_nova_gate_delivers_data_first"
_PENDING = "_nova_gate_pending_error"
_BOUNDED = "_nova_gate_bounded_handshake"
_HANDSHAKE_S = "_nova_gate_handshake_s"


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


def bound_tls_handshake(seconds: float) -> None:
    """Patch ``KafkaSSLTransport.handshake`` (once) to give up after ``seconds`` (the latest value
    set: one process runs one environment's Kafka timeout) with kafka-python's own I/O timeout."""
    try:
        from kafka.net import transport
    except ImportError:  # another kafka-python line: nothing to patch
        return
    cls: Any = getattr(transport, "KafkaSSLTransport", None)
    if cls is None or "handshake" not in cls.__dict__:
        return
    setattr(cls, _HANDSHAKE_S, float(seconds))
    if getattr(cls.__dict__["handshake"], _BOUNDED, False):
        return

    async def handshake(self: Any) -> None:
        import ssl
        import time

        deadline = time.monotonic() + float(getattr(type(self), _HANDSHAKE_S))
        while True:
            try:
                self._sock.do_handshake()
                return
            except ssl.SSLWantReadError:
                await self._net.wait_read(self._sock, deadline)  # KafkaTimeoutError at the deadline
            except ssl.SSLWantWriteError:
                await self._net.wait_write(self._sock, deadline)

    setattr(handshake, _BOUNDED, True)
    cls.handshake = handshake
