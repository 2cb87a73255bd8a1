"""The common base of every source: lazy connection, call counting, one error family."""

from __future__ import annotations

import re
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: words in an exception's type or message that mean "no answer from the backend" (not "a bad answer")
_UNREACHABLE_TYPES = (
    "timeout",
    "timedout",
    "connecterror",
    "connectionerror",
    "newconnectionerror",
    "maxretryerror",
    "nobrokersavailable",
    "remoteprotocolerror",
    "protocolerror",
    "incompleteread",
    "readerror",
    "writeerror",
)
_UNREACHABLE_TEXT = re.compile(
    r"timed? ?out|timeout expired|connection refused|connection reset|could not connect|cannot connect|"
    r"server closed the connection|no brokers available|name or service not known|network is unreachable|"
    r"no route to host|broken pipe|connection aborted|remote end closed|server disconnected|"
    r"connection closed|eof occurred|unexpected eof|incomplete read",
    re.I,
)
#: answers that mention a timeout but come from a live server (a cancelled statement is a fact)
_ANSWERED_TEXT = re.compile(r"statement timeout|canceling statement|lock timeout|query timed out after", re.I)
_ENDPOINT = re.compile(r"(?:https?://)?(\[[0-9a-f:]+\]|[A-Za-z0-9.-]+):(\d{1,5})\b")


def is_unreachable(cause: object) -> bool:
    """Whether an error means the backend did not answer (refused, black-holed, reset, timed out)."""
    seen = 0
    current: object = cause
    while current is not None and seen < 6:
        seen += 1
        text = str(current)
        if _ANSWERED_TEXT.search(text):
            return False
        if isinstance(current, TimeoutError | ConnectionError | socket.timeout | socket.gaierror | ssl.SSLError):
            return True
        if isinstance(current, BaseException):
            name = type(current).__name__.lower()
            if any(word in name for word in _UNREACHABLE_TYPES):
                return True
        if _UNREACHABLE_TEXT.search(text):
            return True
        current = (current.__cause__ or current.__context__) if isinstance(current, BaseException) else None
    return False


def _http_status(cause: object) -> int | None:
    """The status of an ``HTTP 401: ...`` cause (how the HTTP sources word a refusal)."""
    text = str(cause)
    if text.startswith("HTTP ") and text[5:8].isdigit():
        return int(text[5:8])
    return None


class SourceError(Exception):
    """A backend could not answer: unreachable, timed out, unauthorised, or answered nonsense.

    The message is one line: ``<backend>: <what failed>: <cause>``; it never contains a secret.
    """

    def __init__(self, backend: str, what: str, cause: object | None = None) -> None:
        from nova_gate.auth import failure_kind, refuses_identity

        status = _http_status(cause)
        #: "TLS" or "unauthorised" when the backend refused the gates' transport or credentials
        self.kind = failure_kind(cause, status) if cause is not None else None
        text = f"{backend}: {self.kind}: {what}" if self.kind else f"{backend}: {what}"
        if cause is not None:
            detail = " ".join(str(cause).split()) or type(cause).__name__
            text += f": {detail}"
        super().__init__(text[:500])
        self.backend = backend
        #: the backend did not answer (refused, black-holed, timed out), or refused who we are: not
        #: worth asking again (a wrong password retried by every item could lock the account)
        self.unreachable = cause is not None and (is_unreachable(cause) or refuses_identity(self.kind, cause, status))


class Source:
    """One backend. Connects on first use, counts calls, closes on teardown.

    Subclasses wrap every driver call in ``self.call(what)`` so that driver exceptions are turned
    into SourceError once, here at the boundary, and calls are counted for the evidence.
    """

    backend: str = ""
    #: exceptions of the driver that mean "the backend could not answer"
    driver_errors: tuple[type[BaseException], ...] = (OSError,)

    def __init__(self) -> None:
        self._calls = 0
        #: endpoint ("" = the whole backend) -> the failure that showed it does not answer
        self._down: dict[str, SourceError] = {}
        #: guards the count and the down endpoints: a source's calls fan out over a thread pool
        self._source_lock = threading.Lock()

    @property
    def calls(self) -> int:
        """How many backend calls this source has made (every thread's)."""
        with self._source_lock:
            return self._calls

    @staticmethod
    def endpoint_of(what: str) -> str:
        """``host:port`` named in a call's description, else "" (the backend as a whole)."""
        match = _ENDPOINT.search(what)
        return f"{match.group(1)}:{match.group(2)}" if match else ""

    def down(self, endpoint: str = "") -> SourceError | None:
        """The earlier failure of this endpoint (or of the whole backend), if any."""
        with self._source_lock:
            return self._down.get(endpoint) or self._down.get("")

    @contextmanager
    def call(self, what: str, endpoint: str | None = None) -> Iterator[None]:
        """Count one backend call and translate driver errors into SourceError.

        Fail fast: once an endpoint did not answer (refused, black-holed, timed out), every later
        call to it in this session fails at once with the same reason instead of waiting again.
        """
        key = self.endpoint_of(what) if endpoint is None else endpoint
        earlier = self.down(key)
        if earlier is not None:
            raise SourceError(self.backend, what, f"not retried, no answer earlier in this session: {earlier}")
        with self._source_lock:
            self._calls += 1
        try:
            yield
        except SourceError as exc:
            if exc.unreachable:
                self._mark_down(key, exc)
            raise
        except self.driver_errors as exc:
            error = SourceError(self.backend, what, exc)
            if error.unreachable:
                self._mark_down(key, error)
            raise error from exc

    def _mark_down(self, endpoint: str, error: SourceError) -> None:
        with self._source_lock:
            self._down.setdefault(endpoint, error)

    def probe(self) -> None:
        """One cheap call that shows whether the backend answers (run concurrently before the
        tests, so a dead backend costs its timeout once, in parallel with the others)."""

    def close(self) -> None:
        """Release connections; safe to call when never connected."""

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} calls={self.calls}>"
