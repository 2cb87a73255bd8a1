"""Registry authentication: Docker's token flow and Amazon ECR's, as httpx auth classes.

Token flow (https://distribution.github.io/distribution/spec/auth/token/): the registry answers
401 with ``WWW-Authenticate: Bearer realm="...",service="...",scope="..."``; the client asks the
realm for a token with its basic credentials (``GET realm?service=...&scope=...``), gets
``{"token": ..., "expires_in": ...}`` (or ``access_token``) and repeats the request with
``Authorization: Bearer <token>``. GHCR, Harbor, Docker Hub, Quay and distribution with
``auth: token`` all work this way. A ``Basic`` challenge is answered with the basic credentials.

ECR: ``GetAuthorizationToken`` (botocore, the standard AWS credential chain) returns
``base64("AWS:<password>")`` valid for 12 hours; the registry is then spoken to with Basic auth.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import httpx

_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')
#: a token is renewed this long before it expires
EXPIRY_MARGIN_S = 10.0
#: the token specification's default lifetime when the answer gives none
DEFAULT_TOKEN_TTL_S = 60.0
ECR_HOST = re.compile(r"^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")


class RegistryAuthError(httpx.HTTPError):
    """The registry's token server (or ECR) refused or could not issue a token; one line, no secret."""


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "bearer" or "basic"
    params: dict[str, str]


def parse_challenge(header: str) -> Challenge | None:
    """``Bearer realm="https://auth",service="reg",scope="repository:a:pull"`` -> Challenge."""
    header = header.strip()
    if not header:
        return None
    scheme, _, rest = header.partition(" ")
    params = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3)) for m in _PARAM.finditer(rest)}
    params = {k: v.replace('\\"', '"') for k, v in params.items()}
    return Challenge(scheme.lower(), params)


class RegistryTokenAuth(httpx.Auth):
    """Answer the registry's challenge: Bearer (token server, basic credentials) or Basic.

    Tokens are cached per scope and reused until shortly before they expire; a request whose
    cached token the registry refuses gets one fresh token, never a loop.
    """

    requires_response_body = True

    def __init__(self, username: str | None = None, password: str | None = None) -> None:
        self.username = username
        self.password = password
        self._tokens: dict[str, tuple[str, float]] = {}  # scope -> (token, expires at, monotonic)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RegistryTokenAuth(username={self.username!r})"

    def _basic(self) -> str | None:
        if self.username is None or self.password is None:
            return None
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    @staticmethod
    def _scope_of(request: httpx.Request) -> str | None:
        """The repository scope a request needs, guessed from its path (for the cached token)."""
        match = re.match(r"^/v2/(.+?)/(?:tags|manifests|blobs)/", request.url.path)
        if not match:
            return None
        action = "pull" if request.method in ("GET", "HEAD") else "pull,push"
        return f"repository:{match.group(1)}:{action}"

    def _cached(self, scope: str | None) -> str | None:
        if scope is None:
            return None
        with self._lock:
            hit = self._tokens.get(scope)
        if hit and hit[1] - EXPIRY_MARGIN_S > time.monotonic():
            return hit[0]
        return None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        scope = self._scope_of(request)
        cached = self._cached(scope)
        if cached:
            request.headers["Authorization"] = f"Bearer {cached}"
        response = yield request
        if response.status_code != 401:
            return
        challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if challenge is None:
            return
        if challenge.scheme == "basic":
            basic = self._basic()
            if basic is None or request.headers.get("Authorization") == basic:
                return
            request.headers["Authorization"] = basic
            yield request
            return
        if challenge.scheme != "bearer" or "realm" not in challenge.params:
            return
        token_request = self._token_request(challenge)
        answer = yield token_request
        token, ttl = self._token_from(answer, challenge)
        wanted = challenge.params.get("scope") or scope
        if wanted:
            with self._lock:
                self._tokens[wanted] = (token, time.monotonic() + ttl)
        request.headers["Authorization"] = f"Bearer {token}"
        yield request

    def _token_request(self, challenge: Challenge) -> httpx.Request:
        realm = challenge.params["realm"]
        params: list[tuple[str, str | int | float | bool | None]] = [
            (k, challenge.params[k]) for k in ("service",) if challenge.params.get(k)
        ]
        params += [("scope", s) for s in (challenge.params.get("scope") or "").split(" ") if s]
        headers = {"Accept": "application/json"}
        basic = self._basic()
        if basic:
            headers["Authorization"] = basic
        return httpx.Request("GET", realm, params=params, headers=headers)

    @staticmethod
    def _token_from(answer: httpx.Response, challenge: Challenge) -> tuple[str, float]:
        service = challenge.params.get("service", "?")
        if answer.status_code in (401, 403):
            raise RegistryAuthError(
                f"unauthorised: the token server of {service} refused the credentials (HTTP {answer.status_code})"
            )
        if answer.status_code != 200:
            raise RegistryAuthError(f"the token server of {service} answered HTTP {answer.status_code}")
        try:
            body = answer.json()
        except ValueError:
            body = None
        token = (body.get("token") or body.get("access_token")) if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise RegistryAuthError(f"the token server of {service} answered without a token")
        try:
            ttl = float(body.get("expires_in") or DEFAULT_TOKEN_TTL_S)
        except (TypeError, ValueError):
            ttl = DEFAULT_TOKEN_TTL_S
        return token, max(ttl, EXPIRY_MARGIN_S + 1)


# -- Amazon ECR ---------------------------------------------------------------------------------
def ecr_region(host: str) -> tuple[str, str] | None:
    """(registry id, region) of an ECR registry host, else None."""
    match = ECR_HOST.match(host.split(":")[0])
    return (match.group(1), match.group(2)) if match else None


def ecr_basic_credentials(answer: dict[str, Any]) -> tuple[str, str, float]:
    """(user, password, expires at epoch s) from a GetAuthorizationToken answer."""
    try:
        data = answer["authorizationData"][0]
        user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        what = type(exc).__name__
        raise RegistryAuthError(f"ECR GetAuthorizationToken answered without a usable token: {what}") from None
    if not user or not password:
        raise RegistryAuthError("ECR GetAuthorizationToken answered without a usable token")
    expires = data.get("expiresAt")
    expires_at = expires.timestamp() if hasattr(expires, "timestamp") else time.time() + 12 * 3600
    return user, password, float(expires_at)


class EcrAuth(httpx.Auth):
    """Basic auth with the password ECR's GetAuthorizationToken hands out, renewed before it expires.

    The AWS credentials come from botocore's standard chain (environment, web-identity token file,
    shared config/profile, container and instance metadata); ``client`` may be injected (tests).
    """

    def __init__(
        self,
        region: str,
        registry_id: str | None = None,
        *,
        profile: str | None = None,
        endpoint_url: str | None = None,
        client: Any = None,
        timeout_s: float = 10,
    ) -> None:
        self.region = region
        self.registry_id = registry_id
        self.profile = profile
        self.endpoint_url = endpoint_url
        self.timeout_s = timeout_s
        self._client = client
        self._basic: tuple[str, float] | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"EcrAuth(region={self.region!r}, registry_id={self.registry_id!r})"

    def _ecr(self) -> Any:
        if self._client is None:
            import botocore.config
            import botocore.session

            session = botocore.session.Session(profile=self.profile)
            config = botocore.config.Config(
                connect_timeout=self.timeout_s, read_timeout=self.timeout_s, retries={"max_attempts": 1}
            )
            self._client = session.create_client(
                "ecr", region_name=self.region, endpoint_url=self.endpoint_url, config=config
            )
        return self._client

    def header(self) -> str:
        with self._lock:
            if self._basic and self._basic[1] - 300 > time.time():
                return self._basic[0]
            import botocore.exceptions

            kwargs = {"registryIds": [self.registry_id]} if self.registry_id else {}
            try:
                answer = self._ecr().get_authorization_token(**kwargs)
            except botocore.exceptions.NoCredentialsError as exc:
                raise RegistryAuthError("unauthorised: no AWS credentials for ECR GetAuthorizationToken") from exc
            except botocore.exceptions.ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "?")
                raise RegistryAuthError(f"unauthorised: ECR GetAuthorizationToken refused ({code})") from exc
            except botocore.exceptions.BotoCoreError as exc:
                raise RegistryAuthError(f"ECR GetAuthorizationToken failed: {type(exc).__name__}") from exc
            user, password, expires_at = ecr_basic_credentials(answer)
            value = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
            self._basic = (value, expires_at)
            return value

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self.header()
        yield request
