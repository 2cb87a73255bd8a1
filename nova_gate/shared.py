"""Facts fetched once per gate session and shared by every test of the phase.

A phase parametrizes its checks over the estate's services; asking the backend once per service
makes its cost grow with the estate. Instead the first test that needs a whole-estate fact (every
deployment of the namespace, every canary pod, every service's health) fetches it for all services
at once — one paginated list per kind and selector, or concurrent requests with a bound — and the
other tests read their share from this memo::

    by_app = memo(kube).get(("deployments", ns), lambda: group_by(kube.deployments(ns, "app"), app_of))
    deployments = by_app.get(service, [])

The memo belongs to the source object (session-scoped), so a new session starts empty. A fetch that
failed is remembered too: every test that needs it fails at once with the same one-line reason
(fail fast), instead of asking a dead backend again.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from nova_gate.backends.base import SourceError

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)

#: concurrent requests to one backend when a fact needs one request per service (health, manifests)
DEFAULT_CONCURRENCY = 8


def _fresh(error: SourceError) -> SourceError:
    """The same error as a new object: raising one instance from many tests would chain their tracebacks."""
    new = type(error).__new__(type(error))
    Exception.__init__(new, *error.args)
    new.__dict__.update(error.__dict__)
    return new


class _Entry:
    __slots__ = ("done", "error", "lock", "value")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done = False
        self.value: Any = None
        self.error: SourceError | None = None


class SessionMemo:
    """Values fetched at most once per key; thread-safe; a SourceError is remembered and re-raised."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[Hashable, _Entry] = {}
        #: how many fetches ran (one per key), for the evidence and the tests
        self.fetches = 0

    def get(self, key: Hashable, fetch: Callable[[], T]) -> T:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = _Entry()
        with entry.lock:
            if not entry.done:
                self.fetches += 1
                try:
                    entry.value = fetch()
                except SourceError as exc:
                    entry.error = exc
                entry.done = True
        if entry.error is not None:
            raise _fresh(entry.error)
        value: T = entry.value
        return value

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            entry = self._entries.get(key)
        return entry is not None and entry.done


_MEMOS: weakref.WeakKeyDictionary[Any, SessionMemo] = weakref.WeakKeyDictionary()
_MEMOS_LOCK = threading.Lock()


def memo(source: Any) -> SessionMemo:
    """The memo of one session's source (created on first use, gone with the source)."""
    with _MEMOS_LOCK:
        found = _MEMOS.get(source)
        if found is None:
            found = _MEMOS[source] = SessionMemo()
        return found


def group_by(items: Iterable[T], key: Callable[[T], str | None]) -> dict[str, list[T]]:
    """Items grouped by ``key`` (items whose key is None are dropped), order kept."""
    out: dict[str, list[T]] = {}
    for item in items:
        k = key(item)
        if k is not None:
            out.setdefault(k, []).append(item)
    return out


def fetch_each(
    keys: Sequence[K], fetch: Callable[[K], T], max_workers: int = DEFAULT_CONCURRENCY
) -> dict[K, T | SourceError]:
    """``fetch(key)`` for every key, at most ``max_workers`` at a time; a key's SourceError is its value.

    One key's failure never hides the others' answers: each test judges its own key.
    """

    def one(key: K) -> T | SourceError:
        try:
            return fetch(key)
        except SourceError as exc:
            return exc

    unique = list(dict.fromkeys(keys))
    if len(unique) <= 1 or max_workers <= 1:
        return {k: one(k) for k in unique}
    with ThreadPoolExecutor(max_workers=min(max_workers, len(unique)), thread_name_prefix="nova-fetch") as pool:
        return dict(zip(unique, pool.map(one, unique), strict=True))


def value_of(results: Mapping[K, T | SourceError], key: K) -> T:
    """A key's fetched value, or its SourceError raised (a fresh copy per test)."""
    if key not in results:
        raise KeyError(key)
    value = results[key]
    if isinstance(value, SourceError):
        raise _fresh(value)
    return value
