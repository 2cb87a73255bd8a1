"""The common base of every source: lazy connection, call counting, one error family."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class SourceError(Exception):
    """A backend could not answer: unreachable, timed out, unauthorised, or answered nonsense.

    The message is one line: ``<backend>: <what failed>: <cause>``; it never contains a secret.
    """

    def __init__(self, backend: str, what: str, cause: object | None = None) -> None:
        text = f"{backend}: {what}"
        if cause is not None:
            detail = " ".join(str(cause).split()) or type(cause).__name__
            text += f": {detail}"
        super().__init__(text[:500])
        self.backend = backend


class Source:
    """One backend. Connects on first use, counts calls, closes on teardown.

    Subclasses wrap every driver call in ``self.call(what)`` so that driver exceptions are turned
    into SourceError once, here at the boundary, and calls are counted for the evidence.
    """

    backend: str = ""
    #: exceptions of the driver that mean "the backend could not answer"
    driver_errors: tuple[type[BaseException], ...] = (OSError,)

    def __init__(self) -> None:
        self.calls = 0
        self.call_log: list[dict[str, Any]] = []

    @contextmanager
    def call(self, what: str) -> Iterator[None]:
        """Count one backend call and translate driver errors into SourceError."""
        self.calls += 1
        started = time.monotonic()
        try:
            yield
        except SourceError:
            raise
        except self.driver_errors as exc:
            raise SourceError(self.backend, what, exc) from exc
        finally:
            self.call_log.append({"what": what, "seconds": round(time.monotonic() - started, 4)})

    def close(self) -> None:
        """Release connections; safe to call when never connected."""

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} calls={self.calls}>"
