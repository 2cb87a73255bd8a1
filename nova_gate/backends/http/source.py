"""The Nova services' HTTP APIs (httpx): health endpoints, the JWKS document, the smoke flow.

Every request has a timeout. The smoke calls (register, login, feed, conversation, message) are
the only writes nova-gate ever makes, with its own synthetic account; nothing else is written.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx

from nova_gate import redact
from nova_gate.backends.base import Source, SourceError
from nova_gate.backends.http.facts import HttpAnswer, NotAnswered, access_token
from nova_gate.release import Release


class HttpSource(Source):
    """The services' own APIs (one port each). Unlike HttpApiSource, every status is a fact here
    (``HttpAnswer.status``), judged by the health and smoke rules; ``client`` may be injected."""

    backend = "http"
    driver_errors: tuple[type[BaseException], ...] = (httpx.HTTPError, OSError)

    def __init__(self, release: Release, timeout_s: float | None = None, client: httpx.Client | None = None) -> None:
        super().__init__()
        self.release = release
        self.timeout_s = release.http_timeout_s if timeout_s is None else timeout_s
        self._http = client
        self._client_lock = threading.Lock()

    @property
    def http(self) -> httpx.Client:
        with self._client_lock:  # the fail-fast probe asks every service at once (nova_gate.probe)
            if self._http is None:
                self._http = httpx.Client(
                    timeout=self.timeout_s, follow_redirects=False, headers={"User-Agent": "nova-gate"}
                )
            return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def service_url(self, service: str, path: str) -> str:
        port = self.release.service(service).port
        return self.release.base_url.replace("{port}", str(port)).rstrip("/") + path

    def request(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        token: str | None = None,
        what: str | None = None,
    ) -> HttpAnswer:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        started = time.monotonic()
        with self.call(what or f"{method} {url}", endpoint=httpx.URL(url).netloc.decode()):
            resp = self.http.request(method, url, json=json_body, headers=headers)
        seconds = time.monotonic() - started
        try:
            body: Any = resp.json()
        except (ValueError, json.JSONDecodeError):
            body = resp.text[:300]
        _register_credentials(body)
        redact.register(*resp.headers.get_list("set-cookie"))
        return HttpAnswer(method, url, resp.status_code, body, round(seconds, 4))

    def get(self, url: str, what: str | None = None) -> HttpAnswer:
        return self.request("GET", url, what=what)

    # -- facts --------------------------------------------------------------------------------
    def health(self, service: str) -> HttpAnswer:
        return self.get(
            self.service_url(service, self.release.service(service).health_path), what=f"GET {service} health"
        )

    def live(self, service: str) -> HttpAnswer:
        return self.get(self.service_url(service, self.release.service(service).live_path), what=f"GET {service} live")

    def ready(self, service: str) -> HttpAnswer:
        return self.get(
            self.service_url(service, self.release.service(service).ready_path), what=f"GET {service} ready"
        )

    def health_each(self, services: list[str]) -> dict[str, HttpAnswer | NotAnswered]:
        """Every service's health answer, asked concurrently (bounded); one that does not answer is a
        fact too (NotAnswered with the one-line reason), not an error."""
        from nova_gate.shared import fetch_each

        answers = fetch_each(services, self.health)
        return {
            service: NotAnswered(f"{service} health", str(a)) if isinstance(a, SourceError) else a
            for service, a in answers.items()
        }

    def jwks(self, url: str) -> HttpAnswer:
        answer = self.get(url, what="GET jwks")
        if answer.status >= 500:
            raise SourceError(self.backend, f"GET {url}", f"HTTP {answer.status}")
        return answer


def _register_credentials(body: Any, depth: int = 0) -> None:
    """Every credential-named value an API hands out (tokens, session ids) is redacted from now on."""
    if depth > 16:
        return
    if isinstance(body, dict):
        for key, value in body.items():
            if isinstance(value, str) and redact.is_secret_key(key):
                redact.register(value)
            else:
                _register_credentials(value, depth + 1)
    elif isinstance(body, list):
        for value in body[:1000]:
            _register_credentials(value, depth + 1)


def find_service(release: Release, *candidates: str) -> str:
    """The first service of the release whose name is one of ``candidates`` (e.g. auth-service), or
    else the first numbered instance of one (``auth-service-0``, ``auth-service-12``: an estate that
    runs a service as several numbered deployments, as the scaled sandbox profile does)."""
    names = [s.name for s in release.services]
    for name in candidates:
        if name in names:
            return name
    for name in candidates:
        prefix = f"{name}-"
        numbered = [n for n in names if n.startswith(prefix) and n[len(prefix) :].isdigit()]
        if numbered:
            return min(numbered, key=lambda n: int(n[len(prefix) :]))
    raise SourceError("http", f"none of the services {', '.join(candidates)} is in the release")


class SmokeFlow:
    """One synthetic account walked through register → login → feed → conversation → message.

    Each step runs once and is remembered, so the per-item tests (PST-3..6) share one account. The
    flow only reports what happened: a step whose prerequisite gave nothing to go on (no token, no
    conversation id) is a ``NotAnswered`` fact naming why, and the rules judge every step.
    """

    def __init__(self, source: HttpSource) -> None:
        import secrets
        import uuid

        self.source = source
        run = uuid.uuid4().hex[:12]
        self.email = f"smoke+{run}@nova-gate.invalid"
        self.username = f"nova_gate_smoke_{run}"
        self._password = secrets.token_urlsafe(18)
        redact.register(self._password)
        self.content = f"nova-gate smoke message {run}"
        self.auth = find_service(source.release, "auth-service")
        self.answers: dict[str, HttpAnswer | NotAnswered] = {}

    def _post(
        self, step: str, service: str, path: str, body: Any, token: str | None = None
    ) -> HttpAnswer | NotAnswered:
        if step not in self.answers:
            self.answers[step] = self.source.request(
                "POST",
                self.source.service_url(service, path),
                json_body=body,
                token=token,
                what=f"smoke {step}",
            )
        return self.answers[step]

    def register(self) -> HttpAnswer | NotAnswered:
        return self._post(
            "register",
            self.auth,
            "/api/v1/auth/register",
            {"email": self.email, "username": self.username, "password": self._password},
        )

    def login(self) -> HttpAnswer | NotAnswered:
        self.register()  # the account the login is for (whatever its answer: the rules judge it)
        return self._post("login", self.auth, "/api/v1/auth/login", {"email": self.email, "password": self._password})

    def token(self) -> str | None:
        return access_token(self.login())

    def _without_token(self, step: str) -> NotAnswered:
        login = self.login()
        status = f"HTTP {login.status}" if isinstance(login, HttpAnswer) else login.reason
        return NotAnswered(step, f"not sent: the login gave no access token ({status})")

    def feed(self) -> HttpAnswer | NotAnswered:
        if "feed" not in self.answers:
            token = self.token()
            if token is None:
                return self._without_token("feed")
            service = find_service(self.source.release, "feed-service")
            self.answers["feed"] = self.source.request(
                "GET", self.source.service_url(service, "/api/v1/feed"), token=token, what="smoke feed"
            )
        return self.answers["feed"]

    def conversation(self) -> HttpAnswer | NotAnswered:
        token = self.token()
        if token is None:
            return self._without_token("conversation")
        service = find_service(self.source.release, "messaging-service")
        return self._post("conversation", service, "/api/v1/conversations", {"members": []}, token)

    def message(self) -> HttpAnswer | NotAnswered:
        conv = self.conversation()
        conv_id = conv.body.get("id") if isinstance(conv, HttpAnswer) and isinstance(conv.body, dict) else None
        if not conv_id:
            return NotAnswered("message", "not sent: no conversation id to send it to")
        service = find_service(self.source.release, "messaging-service")
        return self._post(
            "message",
            service,
            f"/api/v1/conversations/{conv_id}/messages",
            {"content": self.content},
            self.token(),
        )

    def evidence(self) -> dict[str, Any]:
        """What the flow did, without the password."""
        return {"account": self.email, "steps": {k: v.as_dict() for k, v in self.answers.items()}}
