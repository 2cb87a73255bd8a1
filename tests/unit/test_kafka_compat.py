"""kafka-python's failed connects close their sockets (no ResourceWarning at a random later test)."""

from __future__ import annotations

import contextlib
import gc
import socket
import warnings

from nova_gate.backends.kafka.source import import_kafka


def test_a_refused_connect_leaves_no_open_socket() -> None:
    import_kafka()
    from kafka.net.inet import KafkaNetSocket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    addr = socket.getaddrinfo("127.0.0.1", port, socket.AF_INET, socket.SOCK_STREAM)[0]

    class RefusingNet:
        def wait_write(self, sock: socket.socket, timeout_at: float | None = None) -> None:
            raise ConnectionRefusedError("refused")

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", ResourceWarning)
        coro = KafkaNetSocket().connect(RefusingNet(), addr)
        with contextlib.suppress(Exception):  # refused (or KafkaConnectionError): either way, failed
            coro.send(None)
        del coro
        gc.collect()
    assert not [w for w in seen if issubclass(w.category, ResourceWarning)], [str(w.message) for w in seen]


def test_data_read_with_the_disconnect_reaches_the_protocol_first() -> None:
    """A refusing broker sends its SASL_AUTHENTICATION_FAILED answer and closes at once (after its
    failed-authentication delay): the answer must not be dropped with the disconnect."""
    import_kafka()
    import kafka.errors
    from kafka.net.transport import KafkaTCPTransport

    ours, broker = socket.socketpair()
    try:
        ours.setblocking(False)
        broker.sendall(b"the broker's last answer")
        broker.close()  # data and end-of-file arrive together
        transport = KafkaTCPTransport(None, ours, host="127.0.0.1")
        data, err = transport._sock_recv()
        assert (data, err) == (b"the broker's last answer", None)
        data, err = transport._sock_recv()
        assert data == b"" and isinstance(err, kafka.errors.KafkaConnectionError)
    finally:
        ours.close()


def test_a_plain_disconnect_is_reported_at_once() -> None:
    import_kafka()
    from kafka.net.transport import KafkaTCPTransport

    ours, broker = socket.socketpair()
    try:
        ours.setblocking(False)
        broker.close()
        data, err = KafkaTCPTransport(None, ours, host="127.0.0.1")._sock_recv()
        assert data == b"" and err is not None
    finally:
        ours.close()
