"""Container registry facts over the Docker Registry HTTP API v2 (httpx): tags, manifests, configs.

Manifests are requested with Accept headers for Docker schema2 and OCI manifests and indexes, so
the registry answers the manifest as it was pushed (no schema1 down-conversion).

Authentication follows the registry's challenge (``auth.py``): Docker's token flow (Bearer, the
credentials go to the token server only), Basic, or — an ECR host without a password — ECR's
GetAuthorizationToken through the AWS credential chain.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from nova_gate.backends.base import SourceError
from nova_gate.backends.http_api import HttpApiSource
from nova_gate.backends.registry.config import Registry
from nova_gate.backends.registry.facts import (
    INDEX_TYPES,
    MANIFEST_TYPES,
    ImageFacts,
    ManifestFacts,
    index_platforms,
    match_platform,
)

ACCEPT = ", ".join((*MANIFEST_TYPES, *INDEX_TYPES))


class RegistrySource(HttpApiSource):
    backend = "registry"

    def __init__(self, cfg: Registry, client: httpx.Client | None = None) -> None:
        from urllib.parse import urlsplit

        from nova_gate.backends.registry.auth import EcrAuth, RegistryTokenAuth, ecr_region

        # the registry's challenge decides: Docker's token flow (Bearer), Basic, or ECR's token
        auth: httpx.Auth
        ecr = ecr_region(urlsplit(cfg.url).netloc)
        if cfg.password is None and ecr is not None:
            auth = EcrAuth(ecr[1], ecr[0], timeout_s=cfg.timeout_s)
        else:
            password = cfg.password.get_secret_value() if cfg.password is not None else None
            auth = RegistryTokenAuth(cfg.username, password)
        # blobs may be served by a redirect to storage
        super().__init__(cfg.url, timeout_s=cfg.timeout_s, auth=auth, follow_redirects=True, client=client)
        self.cfg = cfg

    def repository(self, service: str) -> str:
        return f"{self.cfg.repository_prefix}{service}"

    def _get(self, what: str, path: str, *, head: bool = False, accept: str | None = None) -> Any:
        headers = {"Accept": accept} if accept else None
        return self.get(path, what=what, headers=headers, method="HEAD" if head else "GET")

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

    def image(self, repo: str, ref: str, platform: str) -> ImageFacts:
        """IMG-3's facts: the manifest of ``ref``; for an index, the child built for ``platform``; its config."""
        top = self.manifest(repo, ref)
        platforms: dict[str, str] | None = None
        manifest: ManifestFacts | None = top
        if top.status == 200 and top.media_type in INDEX_TYPES:
            platforms = index_platforms(top.body)
            matched = match_platform(platforms, platform)
            manifest = self.manifest(repo, platforms[matched]) if matched is not None else None
        digest = (manifest.body.get("config") or {}).get("digest") if manifest is not None else None
        config = self.blob_json(repo, str(digest)) if digest else None
        return ImageFacts(top, platforms, manifest, config)
