"""Container registry facts: manifests, image indexes and the platform they are built for. No I/O, no verdicts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


DOCKER_INDEX = "application/vnd.docker.distribution.manifest.list.v2+json"


OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


OCI_INDEX = "application/vnd.oci.image.index.v1+json"


MANIFEST_TYPES = (DOCKER_MANIFEST, OCI_MANIFEST)


INDEX_TYPES = (DOCKER_INDEX, OCI_INDEX)


CONFIG_TYPES = ("application/vnd.docker.container.image.v1+json", "application/vnd.oci.image.config.v1+json")


def platform_of(config: Mapping[str, Any] | None) -> str | None:
    if not config or not config.get("os") or not config.get("architecture"):
        return None
    out = f"{config['os']}/{config['architecture']}"
    return f"{out}/{config['variant']}" if config.get("variant") else out


def index_platforms(index: Mapping[str, Any]) -> dict[str, str]:
    """platform string → child manifest digest of an image index / manifest list."""
    out: dict[str, str] = {}
    for child in index.get("manifests") or []:
        if isinstance(child, dict):
            p = platform_of(child.get("platform"))
            if p and child.get("digest"):
                out[p] = str(child["digest"])
    return out


def platform_matches(found: str | None, wanted: str) -> bool:
    if found is None:
        return False
    return found == wanted or (wanted.count("/") == 1 and found.startswith(wanted + "/"))


def match_platform(platforms: Mapping[str, str], platform: str) -> str | None:
    """The key of ``platforms`` (platform → child manifest digest) built for ``platform``, or None."""
    return next((p for p in platforms if platform_matches(p, platform)), None)


@dataclass(frozen=True)
class ManifestFacts:
    repository: str
    reference: str
    status: int
    media_type: str | None = None
    digest: str | None = None
    body: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ImageFacts:
    """IMG-3's facts: what the registry answered for the release tag, the platforms of an index
    (None for a plain manifest), the image manifest for the wanted platform (None when an index
    lists none) and its config blob (None when it cannot be fetched)."""

    top: ManifestFacts
    platforms: dict[str, str] | None
    manifest: ManifestFacts | None
    config: dict[str, Any] | None
