"""Container image checks over the registry API v2 (IMG-1..3) and retention after 24 h (P24-10)."""

from __future__ import annotations

import pytest

from nova_gate.backends.registry import rules as reg_rules
from nova_gate.backends.registry.facts import platform_of
from nova_gate.shared import fetch_each, memo, value_of


def _tags(registry, env, service):
    """Every service's tags, fetched concurrently (bounded) once per session."""
    repos = [registry.repository(s) for s in env.service_names]
    fetched = memo(registry).get(("tags", *repos), lambda: fetch_each(repos, registry.tags))
    return value_of(fetched, registry.repository(service))


def _manifest(registry, env, service, ref, head=False):
    """One reference's manifest for every service, fetched concurrently (bounded) once per session."""
    repos = [registry.repository(s) for s in env.service_names]
    fetched = memo(registry).get(
        ("manifest", ref, head, *repos), lambda: fetch_each(repos, lambda repo: registry.manifest(repo, ref, head=head))
    )
    return value_of(fetched, registry.repository(service))


def _image(registry, env, service, ref, platform):
    """One reference's image facts (manifest, index child, config) for every service, fetched
    concurrently (bounded) once per session."""
    repos = [registry.repository(s) for s in env.service_names]
    fetched = memo(registry).get(
        ("image", ref, platform, *repos), lambda: fetch_each(repos, lambda repo: registry.image(repo, ref, platform))
    )
    return value_of(fetched, registry.repository(service))


@pytest.mark.item("IMG-1")
def test_release_tag_pushed(registry, env, service, gate):
    repo = registry.repository(service)
    tags = _tags(registry, env, service)
    gate.evidence(source="registry", request=f"GET /v2/{repo}/tags/list", observed=tags, expected=env.release.version)
    gate.judge(reg_rules.tag_present(repo, tags, env.release.version))


@pytest.mark.item("IMG-2")
def test_latest_is_release(registry, env, service, gate):
    repo, version = registry.repository(service), env.release.version
    # the release's manifest is the one IMG-3 reads (its GET carries the same digest as a HEAD)
    release = _manifest(registry, env, service, version)
    latest = _manifest(registry, env, service, "latest", head=True)
    gate.evidence(
        source="registry",
        request=f"HEAD /v2/{repo}/manifests/{{{version},latest}}",
        observed={version: release.digest, "latest": latest.digest},
        expected="equal digests",
    )
    gate.judge(reg_rules.latest_matches(repo, version, release.digest, latest.digest))


@pytest.mark.item("IMG-3")
def test_manifest_valid_for_platform(registry, env, service, gate):
    repo, version = registry.repository(service), env.release.version
    platform = env.backends.registry.platform
    image = _image(registry, env, service, version, platform)
    gate.evidence(
        source="registry",
        request=f"GET /v2/{repo}/manifests/{version} (+ the {platform} child of an index) + config blob",
        observed={
            "status": image.top.status,
            "media_type": image.top.media_type,
            "digest": image.top.digest,
            "index": image.platforms,
            "platform": platform_of(image.config),
        },
        expected=platform,
    )
    gate.judge(reg_rules.image_valid(repo, version, image, platform))


@pytest.mark.item("P24-10")
def test_old_images_pruned(registry, env, service, gate):
    repo = registry.repository(service)
    tags = _tags(registry, env, service)
    gate.evidence(
        source="registry",
        request=f"GET /v2/{repo}/tags/list",
        observed=tags,
        expected=f"<= {env.thresholds.images_retained} versions, {env.release.version} and "
        f"{env.release.baseline_version} (rollback) kept",
    )
    gate.judge(
        reg_rules.retention(
            repo,
            tags,
            env.thresholds.images_retained,
            running=env.release.version,
            rollback=env.release.baseline_version,
        )
    )
