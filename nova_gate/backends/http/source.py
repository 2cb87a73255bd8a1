"""The Nova services' HTTP APIs (httpx): health endpoints, the JWKS document, the smoke flow.

Every request has a timeout. The smoke calls (register, login, feed, conversation, message) are
the only writes nova-gate ever makes, with its own synthetic account; nothing else is written.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from nova_gate import redact
from nova_gate.backends.base import Source, SourceError
from nova_gate.backends.http.facts import HttpAnswer
from nova_gate.config import Release


class HttpSource(Source):
    backend = "http"

    def __init__(self, release: Release, timeout_s: float | None = None) -> None:
        super().__init__()
        import httpx

        self.release = release
        self.timeout_s = release.http_timeout_s if timeout_s is None else timeout_s
        self.driver_errors = (httpx.HTTPError, OSError)
        self._http: httpx.Client | None = None
        self._client_lock = threading.Lock()

    @property
    def http(self) -> Any:
        import httpx

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
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        with self.call(what or f"{method} {url}", endpoint=httpx.URL(url).netloc.decode()):
            resp = self.http.request(method, url, json=json_body, headers=headers)
        try:
            body: Any = resp.json()
        except (ValueError, json.JSONDecodeError):
            body = resp.text[:300]
        _register_credentials(body)
        redact.register(*resp.headers.get_list("set-cookie"))
        return HttpAnswer(method, url, resp.status_code, body, round(resp.elapsed.total_seconds(), 4))

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
    """The first service of the release whose name is one of ``candidates`` (e.g. auth-service)."""
    names = [s.name for s in release.services]
    for name in candidates:
        if name in names:
            return name
    raise SourceError("http", f"none of the services {', '.join(candidates)} is in the release")


class SmokeFlow:
    """One synthetic account walked through register → login → feed → conversation → message.

    Each step runs once and is remembered, so the per-item tests (PST-3..6) share one account; a
    step whose prerequisite failed raises SourceError naming that prerequisite.
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
        self.answers: dict[str, HttpAnswer] = {}

    def _post(self, step: str, service: str, path: str, body: Any, token: str | None = None) -> HttpAnswer:
        if step not in self.answers:
            self.answers[step] = self.source.request(
                "POST",
                self.source.service_url(service, path),
                json_body=body,
                token=token,
                what=f"smoke {step}",
            )
        return self.answers[step]

    def register(self) -> HttpAnswer:
        return self._post(
            "register",
            self.auth,
            "/api/v1/auth/register",
            {"email": self.email, "username": self.username, "password": self._password},
        )

    def login(self) -> HttpAnswer:
        if self.register().status not in (200, 201):
            raise SourceError("http", "smoke login", f"registration failed (HTTP {self.register().status})")
        return self._post("login", self.auth, "/api/v1/auth/login", {"email": self.email, "password": self._password})

    def token(self) -> str:
        answer = self.login()
        body = answer.body if isinstance(answer.body, dict) else {}
        token = body.get("access_token") or body.get("token")
        if answer.status != 200 or not isinstance(token, str):
            raise SourceError("http", "smoke token", f"login failed (HTTP {answer.status})")
        return token

    def feed(self) -> HttpAnswer:
        if "feed" not in self.answers:
            service = find_service(self.source.release, "feed-service")
            self.answers["feed"] = self.source.request(
                "GET", self.source.service_url(service, "/api/v1/feed"), token=self.token(), what="smoke feed"
            )
        return self.answers["feed"]

    def conversation(self) -> HttpAnswer:
        service = find_service(self.source.release, "messaging-service")
        return self._post("conversation", service, "/api/v1/conversations", {"members": []}, self.token())

    def message(self) -> HttpAnswer | None:
        conv = self.conversation()
        conv_id = conv.body.get("id") if isinstance(conv.body, dict) else None
        if conv.status not in (200, 201) or not conv_id:
            return None
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
