"""Container image checks over the registry API v2 (IMG-1..3) and retention after 24 h (P24-10)."""

from __future__ import annotations

import pytest

from nova_gate.backends.registry import rules as reg_rules
from nova_gate.backends.registry.source import INDEX_TYPES


@pytest.mark.item("IMG-1")
def test_release_tag_pushed(registry, env, service, gate):
    repo = registry.repository(service)
    tags = registry.tags(repo)
    gate.evidence(source="registry", request=f"GET /v2/{repo}/tags/list", observed=tags, expected=env.release.version)
    gate.judge(reg_rules.tag_present(repo, tags, env.release.version))


@pytest.mark.item("IMG-2")
def test_latest_is_release(registry, env, service, gate):
    repo, version = registry.repository(service), env.release.version
    release = registry.manifest(repo, version, head=True)
    latest = registry.manifest(repo, "latest", head=True)
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
    top = registry.manifest(repo, version)
    manifest = top
    if top.status == 200 and top.media_type in INDEX_TYPES:
        platforms = reg_rules.index_platforms(top.body)
        in_index = reg_rules.platform_in_index(repo, version, platforms, platform)
        gate.evidence(source="registry", request=f"GET /v2/{repo}/manifests/{version}", index=platforms)
        if in_index.label.blocks:
            gate.judge(in_index)
            return
        matched = reg_rules.match_platform(platforms, platform)
        manifest = registry.manifest(repo, platforms[str(matched)])
    config_digest = (manifest.body.get("config") or {}).get("digest")
    config = registry.blob_json(repo, config_digest) if config_digest else None
    gate.evidence(
        source="registry",
        request=f"GET /v2/{repo}/manifests/{version} + config blob",
        observed={
            "status": top.status,
            "media_type": top.media_type,
            "digest": top.digest,
            "platform": reg_rules.platform_of(config),
        },
        expected=platform,
    )
    gate.judge(reg_rules.manifest_valid(repo, version, top.status, top.media_type, manifest.body, config, platform))


@pytest.mark.item("P24-10")
def test_old_images_pruned(registry, env, service, gate):
    repo = registry.repository(service)
    tags = registry.tags(repo)
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
