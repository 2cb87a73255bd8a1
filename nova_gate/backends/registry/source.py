"""Container registry facts over the Docker Registry HTTP API v2 (httpx): tags, manifests, configs.

Manifests are requested with Accept headers for Docker schema2 and OCI manifests and indexes, so
the registry answers the manifest as it was pushed (no schema1 down-conversion).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from nova_gate.backends.base import Source, SourceError
from nova_gate.backends.registry.config import Registry

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_INDEX = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST_TYPES = (DOCKER_MANIFEST, OCI_MANIFEST)
INDEX_TYPES = (DOCKER_INDEX, OCI_INDEX)
ACCEPT = ", ".join((*MANIFEST_TYPES, *INDEX_TYPES))


@dataclass(frozen=True)
class ManifestFacts:
    repository: str
    reference: str
    status: int
    media_type: str | None = None
    digest: str | None = None
    body: dict[str, Any] = field(default_factory=dict)


class RegistrySource(Source):
    backend = "registry"

    def __init__(self, cfg: Registry) -> None:
        super().__init__()
        import httpx

        self.cfg = cfg
        self.driver_errors = (httpx.HTTPError, OSError)
        self._http: httpx.Client | None = None

    @property
    def http(self) -> Any:
        import httpx

        if self._http is None:
            auth = None
            if self.cfg.username and self.cfg.password is not None:
                auth = httpx.BasicAuth(self.cfg.username, self.cfg.password.get_secret_value())
            self._http = httpx.Client(
                base_url=self.cfg.url.rstrip("/"),
                timeout=self.cfg.timeout_s,
                auth=auth,
                follow_redirects=True,
            )
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def repository(self, service: str) -> str:
        return f"{self.cfg.repository_prefix}{service}"

    def _get(self, what: str, path: str, *, head: bool = False, accept: str | None = None) -> Any:
        headers = {"Accept": accept} if accept else {}
        with self.call(what):
            resp = (self.http.head if head else self.http.get)(path, headers=headers)
        if resp.status_code in (401, 403):
            raise SourceError(self.backend, what, f"HTTP {resp.status_code} (credentials refused)")
        if resp.status_code >= 500:
            raise SourceError(self.backend, what, f"HTTP {resp.status_code}")
        return resp

    # -- facts --------------------------------------------------------------------------------
    def tags(self, repo: str) -> list[str] | None:
        """The repository's tags; None when the repository does not exist."""
        resp = self._get(f"GET /v2/{repo}/tags/list", f"/v2/{repo}/tags/list?n=1000")
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise SourceError(self.backend, f"GET /v2/{repo}/tags/list", f"HTTP {resp.status_code}")
        try:
            return [str(t) for t in (resp.json().get("tags") or [])]
        except (ValueError, AttributeError) as exc:
            raise SourceError(self.backend, f"GET /v2/{repo}/tags/list", f"not JSON: {exc}") from exc

    def manifest(self, repo: str, ref: str, *, head: bool = False) -> ManifestFacts:
        what = f"{'HEAD' if head else 'GET'} /v2/{repo}/manifests/{ref}"
        resp = self._get(what, f"/v2/{repo}/manifests/{ref}", head=head, accept=ACCEPT)
        if resp.status_code != 200:
            return ManifestFacts(repo, ref, resp.status_code)
        media = (resp.headers.get("Content-Type") or "").split(";")[0].strip() or None
        body: dict[str, Any] = {}
        if not head:
            try:
                parsed = json.loads(resp.content)
            except ValueError:
                parsed = {}
            body = parsed if isinstance(parsed, dict) else {}
            media = str(body.get("mediaType") or media or "") or None
        return ManifestFacts(repo, ref, 200, media, resp.headers.get("Docker-Content-Digest"), body)

    def blob_json(self, repo: str, digest: str) -> dict[str, Any] | None:
        """A JSON blob (an image config); None when the registry does not have it."""
        resp = self._get(f"GET /v2/{repo}/blobs/{digest[:19]}", f"/v2/{repo}/blobs/{digest}")
        if resp.status_code != 200:
            return None
        try:
            data = json.loads(resp.content)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None
