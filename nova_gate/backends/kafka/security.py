"""Kafka client security for kafka-python: SASL (PLAIN, SCRAM-SHA-256/512) over TLS, mutual TLS,
and a one-line reason when the brokers refuse us.

kafka-python answers a refused SASL login or an untrusted certificate with a bootstrap timeout
("Unable to bootstrap from ..."); the real cause is only logged, by ``kafka.net.manager``
("Connection failed: ..."). ``ConnectionFailures`` listens for those lines while a client
bootstraps, so the gate can say "unauthorised" or "TLS" instead of "no brokers".
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


def secret_value(value: Any) -> str | None:
    if value is None:
        return None
    getter = getattr(value, "get_secret_value", None)
    return str(getter() if callable(getter) else value)


def client_kwargs(cfg: Any) -> dict[str, Any]:
    """kafka-python settings from a Kafka config (``security_protocol``, ``sasl_mechanism``,
    ``username``, ``password``, ``ssl_cafile``, ``ssl_certfile``, ``ssl_keyfile``); absent = plaintext."""
    protocol = (getattr(cfg, "security_protocol", None) or "PLAINTEXT").upper()
    out: dict[str, Any] = {"security_protocol": protocol}
    if protocol.startswith("SASL_"):
        out["sasl_mechanism"] = getattr(cfg, "sasl_mechanism", None) or "SCRAM-SHA-512"
        out["sasl_plain_username"] = getattr(cfg, "username", None)
        out["sasl_plain_password"] = secret_value(getattr(cfg, "password", None))
    if protocol in ("SSL", "SASL_SSL"):
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            value = getattr(cfg, name, None)
            if value is not None:
                out[name] = str(value)
        # only when switched off: kafka-python 3.0 given ssl_check_hostname=True explicitly closed the
        # SASL_SSL connection before a refused login's answer (seen against the sandbox's brokers)
        if not getattr(cfg, "ssl_check_hostname", True):
            out["ssl_check_hostname"] = False
    return out


_TLS = re.compile(r"ssl|certificate|tls|handshake|wrong version number", re.I)
_AUTH = re.compile(r"sasl|authenticat|authoriz|credential|scram|password", re.I)
_TIMED_OUT = re.compile(r"timed out|timeout", re.I)


_OBJECT = re.compile(r"<[^>]*>:?\s*")


def classify(message: str) -> str | None:
    """``unauthorised: ...`` / ``TLS: ...`` for a connection failure kafka-python logged, else None."""
    text = " ".join(_OBJECT.sub("", message).split())
    if _AUTH.search(text):
        return f"unauthorised: {text[:200]}"
    if _TIMED_OUT.search(text):
        return None  # "Handshake failed: KafkaTimeoutError: I/O wait timed out" is a black hole, not TLS
    if _TLS.search(text):
        return f"TLS: {text[:200]}"
    return None


class ConnectionFailures(logging.Handler):
    """Collects kafka-python's "Connection failed" records (the brokers' refusals) while installed."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.messages: list[str] = []
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:
            return
        if "failed" in message.lower() or record.exc_info:
            with self._lock:
                self.messages.append(message)

    def reason(self) -> str | None:
        """The most telling refusal seen: authentication first, then TLS."""
        with self._lock:
            found = [classify(m) for m in self.messages]
        for prefix in ("unauthorised", "TLS"):
            for item in found:
                if item and item.startswith(prefix):
                    return item
        return None


@contextmanager
def connection_failures() -> Iterator[ConnectionFailures]:
    handler = ConnectionFailures()
    loggers = [logging.getLogger(name) for name in ("kafka.net.manager", "kafka.net.connection", "kafka.conn")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        if lg.getEffectiveLevel() > logging.ERROR:
            lg.setLevel(logging.ERROR)
    try:
        yield handler
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)
