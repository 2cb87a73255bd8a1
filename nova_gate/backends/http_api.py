"""The HTTP transport shared by the SaaS API sources (httpx, timeouts, no redirects)."""

from __future__ import annotations

import httpx

from nova_gate.backends.base import Source, SourceError


class HttpApiSource(Source):
    backend = "http"
    driver_errors = (httpx.HTTPError, OSError)

    def __init__(self, base_url: str, headers: dict[str, str], timeout_s: float) -> None:
        super().__init__()
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s, follow_redirects=False
        )

    def get(self, path: str) -> httpx.Response:
        with self.call(f"GET {path}"):
            response = self._client.get(path)
        if response.status_code in (401, 403):
            raise SourceError(self.backend, f"GET {path}: unauthorised ({response.status_code})")
        if response.status_code >= 500:
            raise SourceError(self.backend, f"GET {path}: server error {response.status_code}")
        return response

    def close(self) -> None:
        self._client.close()
