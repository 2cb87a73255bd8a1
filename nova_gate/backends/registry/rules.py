"""Registry verdicts: release tag present (IMG-1), latest == release (IMG-2), manifest valid for the
platform (IMG-3), old versions pruned (P24-10)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from nova_gate.verdict import Verdict, failed, passed

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_INDEX = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST_TYPES = (DOCKER_MANIFEST, OCI_MANIFEST)
INDEX_TYPES = (DOCKER_INDEX, OCI_INDEX)
CONFIG_TYPES = ("application/vnd.docker.container.image.v1+json", "application/vnd.oci.image.config.v1+json")
VERSION_TAG = re.compile(r"^v?\d+\.\d+(\.\d+)?([-+.][0-9A-Za-z.-]+)?$")


def tag_present(repo: str, tags: Sequence[str] | None, version: str) -> Verdict:
    """IMG-1: the repository exists and lists the release tag."""
    if tags is None:
        return failed(f"{repo} does not exist in the registry", None, f"{repo}:{version}")
    if version not in tags:
        return failed(f"{repo} has no tag {version}", sorted(tags), f"{repo}:{version}")
    return passed(f"{repo}:{version} is pushed", sorted(tags), f"{repo}:{version}")


def latest_matches(repo: str, version: str, version_digest: str | None, latest_digest: str | None) -> Verdict:
    """IMG-2: ``latest`` resolves to the very manifest of the release tag."""
    observed = {version: version_digest, "latest": latest_digest}
    expected = f"latest digest == {version} digest"
    if not version_digest:
        return failed(f"{repo}:{version} has no manifest digest (tag missing?)", observed, expected)
    if not latest_digest:
        return failed(f"{repo}:latest has no manifest digest (tag missing?)", observed, expected)
    if latest_digest != version_digest:
        return failed(
            f"{repo}:latest is {latest_digest[:19]}, not {version} ({version_digest[:19]})",
            observed,
            expected,
        )
    return passed(f"{repo}:latest == {version} ({version_digest[:19]})", observed, expected)


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


def _platform_matches(found: str | None, wanted: str) -> bool:
    if found is None:
        return False
    return found == wanted or (wanted.count("/") == 1 and found.startswith(wanted + "/"))


def manifest_valid(
    repo: str,
    ref: str,
    status: int,
    media_type: str | None,
    manifest: Mapping[str, Any],
    config: Mapping[str, Any] | None,
    platform: str,
) -> Verdict:
    """IMG-3: a schema2/OCI image manifest whose config blob is fetchable and built for ``platform``.

    ``manifest`` is the image manifest (for an index: the child manifest for ``platform``) and
    ``media_type`` the media type the registry answered for ``ref`` (manifest or index).
    """
    expected = {"media_type": list(MANIFEST_TYPES + INDEX_TYPES), "platform": platform, "config": "fetchable"}
    observed: dict[str, Any] = {
        "status": status,
        "media_type": media_type,
        "config_media_type": (manifest.get("config") or {}).get("mediaType"),
        "platform": platform_of(config),
    }
    where = f"{repo}:{ref}"
    if status != 200:
        return failed(f"{where}: manifest answered HTTP {status}", observed, expected)
    if media_type not in MANIFEST_TYPES + INDEX_TYPES:
        return failed(f"{where}: unsupported manifest media type {media_type!r}", observed, expected)
    if manifest.get("schemaVersion") != 2:
        return failed(f"{where}: schemaVersion {manifest.get('schemaVersion')!r}, expected 2", observed, expected)
    layers = manifest.get("layers")
    if not isinstance(layers, list) or not layers:
        return failed(f"{where}: manifest has no layers", observed, expected)
    if config is None:
        return failed(f"{where}: config blob cannot be fetched", observed, expected)
    if observed["config_media_type"] not in CONFIG_TYPES:
        return failed(f"{where}: config media type {observed['config_media_type']!r}", observed, expected)
    if not _platform_matches(platform_of(config), platform):
        return failed(
            f"{where}: built for {platform_of(config) or 'an unknown platform'}, expected {platform}",
            observed,
            expected,
        )
    return passed(f"{where}: {media_type}, {len(layers)} layer(s), {platform}", observed, expected)


def version_tags(tags: Sequence[str]) -> list[str]:
    return sorted(t for t in tags if VERSION_TAG.match(t))


def version_key(tag: str) -> tuple[tuple[int, ...], int, str]:
    """Semantic order of a version tag: numbers compared as numbers, a pre-release before its release,
    build metadata ignored; ``v1.0.0`` and ``1.0.0`` are the same version."""
    core = tag.removeprefix("v").split("+", 1)[0]
    numbers, _, pre = core.partition("-")
    if not pre and not re.fullmatch(r"[0-9.]+", numbers):  # 1.0.0.rc1 style
        m = re.match(r"^([0-9.]+?)\.?([A-Za-z].*)$", numbers)
        if m:
            numbers, pre = m.group(1), m.group(2)
    nums = tuple(int(n) for n in numbers.split(".") if n.isdigit())
    nums = nums + (0,) * (3 - len(nums))
    return (nums, 0 if pre else 1, pre)


def retention(
    repo: str,
    tags: Sequence[str] | None,
    keep: int,
    running: str | None = None,
    rollback: str | None = None,
) -> Verdict:
    """P24-10: "retain last ``keep`` versions", counted in versions, never in tags.

    Tags naming the same version (``v1.0.0``, ``1.0.0``) count once; moving tags (``latest``) do not
    count. The running version and the rollback target must be among the retained ones: a
    retention that deleted either fails, however few versions are left. More than ``keep``
    versions fails and names the oldest ones (semantic order) as those to prune.
    """
    expected = f"<= {keep} versions, including the running {running or '?'} and rollback {rollback or '?'}"
    if tags is None:
        return failed(f"{repo} does not exist in the registry", None, expected)
    by_version: dict[tuple[tuple[int, ...], int, str], list[str]] = {}
    for tag in version_tags(tags):
        by_version.setdefault(version_key(tag), []).append(tag)
    ordered = sorted(by_version, reverse=True)  # newest first
    observed = {
        "versions": [by_version[k][0] if len(by_version[k]) == 1 else "=".join(by_version[k]) for k in ordered],
        "running": running,
        "rollback": rollback,
        "other_tags": sorted(t for t in tags if not VERSION_TAG.match(t)),
    }
    if not ordered:
        return failed(f"{repo} lists no version tags at all", observed, expected)
    problems = []
    for role, version in (("running", running), ("rollback target", rollback)):
        if version is not None and version_key(version) not in by_version:
            problems.append(f"the {role} version {version} was deleted")
    if len(ordered) > keep:
        prune = [by_version[k][0] for k in ordered[keep:]]
        problems.append(f"retains {len(ordered)} versions, more than {keep}: prune {', '.join(prune)}")
    if problems:
        return failed(f"{repo}: " + "; ".join(problems), observed, expected)
    return passed(
        f"{repo} retains {len(ordered)} version(s), newest {by_version[ordered[0]][0]}, running and rollback kept",
        observed,
        expected,
    )


def platform_in_index(repo: str, ref: str, platforms: Mapping[str, str], platform: str) -> Verdict:
    """IMG-3 for an image index: the wanted platform is one of its manifests."""
    match = match_platform(platforms, platform)
    if match is None:
        return failed(f"{repo}:{ref}: index has no {platform} manifest", sorted(platforms), platform)
    return passed(f"{repo}:{ref}: index lists {match}", sorted(platforms), platform)


def match_platform(platforms: Mapping[str, str], platform: str) -> str | None:
    """The child manifest digest of ``platforms`` (platform → digest) built for ``platform``."""
    key = next((p for p in platforms if _platform_matches(p, platform)), None)
    return None if key is None else key
