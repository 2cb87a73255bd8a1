"""A leak in kafka-python 3.0, closed at our boundary.

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
