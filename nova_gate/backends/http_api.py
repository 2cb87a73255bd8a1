"""The one transport of the HTTP API sources (Prometheus, Alertmanager, the registry, Grafana, Vault):
a base URL, an auth hook, timeouts, no redirects unless asked, and ONE status table.

- ``auth`` is httpx's own hook: an ``httpx.Auth`` (``BearerAuth``, ``HeaderAuth``, ``httpx.BasicAuth``,
  a token flow that refreshes) or a callable ``request -> request``. Nothing else sets credentials.
- ``client`` may be injected (tests pass ``httpx.Client(transport=httpx.MockTransport(handler))``).
- The status table: 401/403 = unauthorised and 5xx (or any other non-success) = error, both a
  SourceError (the check FAILs with one line); 404 = absent, returned as ``ABSENT``; an answer without
  data is not an error either. So the source reports "nothing there" as data, and the rule decides
  whether nothing is a FAIL (a missing dashboard) or INCONCLUSIVE (nothing configured to look at).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Mapping
from typing import Any, Final

import httpx

from nova_gate.backends.base import Source, SourceError

UNAUTHORISED: Final = "unauthorised"
ABSENT_STATUS: Final = "absent"
ERROR: Final = "error"
OK: Final = "ok"


def status_class(code: int) -> str:
    """The one status table of every HTTP source."""
    if code in (401, 403):
        return UNAUTHORISED
    if code == 404:
        return ABSENT_STATUS
    if 200 <= code < 300:
        return OK
    return ERROR


class _Absent:
    """What a source returns for a 404: the thing asked for does not exist (data, not an error)."""

    _instance: _Absent | None = None

    def __new__(cls) -> _Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Final = _Absent()


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer <token>``."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


class HeaderAuth(httpx.Auth):
    """One credential header (``X-Vault-Token: ...``, ``Authorization: Token token=...``)."""

    def __init__(self, name: str, value: str) -> None:
        self._name, self._value = name, value

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[self._name] = self._value
        yield request


#: query parameters: a mapping, or ``httpx.QueryParams`` when a key repeats (``ids[]=a&ids[]=b``)
Params = Mapping[str, str] | httpx.QueryParams | None

AuthHook = httpx.Auth | Callable[[httpx.Request], httpx.Request] | None


class HttpApiSource(Source):
    """A Source over one HTTP API. Subclasses set ``backend`` and call ``get``/``get_json``."""

    backend = "http"
    driver_errors: tuple[type[BaseException], ...] = (httpx.HTTPError, OSError)

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float,
        auth: AuthHook = None,
        headers: dict[str, str] | None = None,
        follow_redirects: bool = False,
        client: httpx.Client | None = None,
        options: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self._options: dict[str, Any] = {
            "base_url": self.base_url,
            "timeout": timeout_s,
            "auth": auth,
            "headers": {"User-Agent": "nova-gate", **(headers or {})},
            "follow_redirects": follow_redirects,
        }
        self._http = client
        # more httpx options (TLS ``verify``/``cert``, credential ``headers``) made when first used:
        # a ``*_file`` secret that cannot be read is then a SourceError of this backend, not a crash
        self._lazy_options = options
        self._lock = threading.Lock()  # the fail-fast probe may ask from several threads

    @property
    def http(self) -> httpx.Client:
        with self._lock:
            if self._http is None:
                options = dict(self._options)
                if self._lazy_options is not None:
                    from nova_gate.auth import SecretFileError

                    # reading the credentials is not a backend call (not counted), but its failure is
                    # this backend's one line
                    try:
                        extra = dict(self._lazy_options())
                    except (SecretFileError, OSError) as exc:
                        raise SourceError(self.backend, "credentials", exc) from None
                    options["headers"] = {**options["headers"], **extra.pop("headers", {})}
                    options.update(extra)
                self._http = httpx.Client(**options)
            return self._http

    def get(
        self,
        path: str,
        *,
        what: str | None = None,
        params: Params = None,
        headers: dict[str, str] | None = None,
        method: str = "GET",
    ) -> httpx.Response:
        """The answer, unless the status table says unauthorised or error (then SourceError)."""
        what = what or f"{method} {path}"
        with self.call(what):
            response = self.http.request(method, path, params=params, headers=headers)
        kind = status_class(response.status_code)
        if kind == UNAUTHORISED:
            raise SourceError(self.backend, what, f"unauthorised (HTTP {response.status_code})")
        if kind == ERROR:
            raise SourceError(self.backend, what, f"HTTP {response.status_code}: {self.error_detail(response)}")
        return response

    def error_detail(self, response: httpx.Response) -> str:
        """The one-line why of an error answer (an API with error bodies overrides this)."""
        return _snippet(response)

    def get_json(
        self, path: str, *, what: str | None = None, params: Params = None, headers: dict[str, str] | None = None
    ) -> Any:
        """The decoded JSON answer, or ``ABSENT`` for a 404; a body that is not JSON is a SourceError."""
        what = what or f"GET {path}"
        response = self.get(path, what=what, params=params, headers=headers)
        if status_class(response.status_code) == ABSENT_STATUS:
            return ABSENT
        try:
            return response.json()
        except ValueError as exc:
            raise SourceError(self.backend, what, f"not JSON: {_snippet(response)}") from exc

    def close(self) -> None:
        with self._lock:
            if self._http is not None:
                self._http.close()
                self._http = None


def _snippet(response: httpx.Response) -> str:
    try:
        return " ".join(response.text[:200].split())
    except (UnicodeDecodeError, httpx.ResponseNotRead):
        return ""


def token_auth(token: Any) -> AuthHook:
    """A bearer-token hook from a SecretStr (or None when there is no token)."""
    value = token.get_secret_value() if token is not None else ""
    return BearerAuth(value) if value else None
