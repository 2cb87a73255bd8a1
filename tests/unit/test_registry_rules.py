"""Registry rules on hand-built manifests (IMG-1..3, P24-10) and the source on a closed port."""

from __future__ import annotations

import time

import pytest

from nova_gate.backends.base import SourceError
from nova_gate.backends.registry.config import Registry
from nova_gate.backends.registry.facts import DOCKER_MANIFEST, OCI_INDEX, index_platforms, match_platform
from nova_gate.backends.registry.rules import (
    latest_matches,
    manifest_valid,
    platform_in_index,
    retention,
    tag_present,
)
from nova_gate.backends.registry.source import RegistrySource
from nova_gate.testing import free_port
from nova_gate.verdict import Label

CONFIG = {"os": "linux", "architecture": "amd64"}
MANIFEST = {
    "schemaVersion": 2,
    "mediaType": DOCKER_MANIFEST,
    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": "sha256:c"},
    "layers": [{"digest": "sha256:l"}],
}


def test_tag_present() -> None:
    assert tag_present("r", ["v1.0.0", "latest"], "v1.0.0").label is Label.PASS
    assert tag_present("r", ["v0.9.0"], "v1.0.0").label is Label.FAIL
    assert tag_present("r", None, "v1.0.0").label is Label.FAIL
    assert tag_present("r", [], "v1.0.0").label is Label.FAIL


def test_latest_matches() -> None:
    assert latest_matches("r", "v1", "sha256:a", "sha256:a").label is Label.PASS
    assert latest_matches("r", "v1", "sha256:a", "sha256:b").label is Label.FAIL
    assert latest_matches("r", "v1", None, "sha256:b").label is Label.FAIL
    assert latest_matches("r", "v1", "sha256:a", None).label is Label.FAIL


def test_manifest_valid() -> None:
    verdict = manifest_valid("r", "v1", 200, DOCKER_MANIFEST, MANIFEST, CONFIG, "linux/amd64")
    assert verdict.label is Label.PASS


@pytest.mark.parametrize(
    ("status", "media", "manifest", "config"),
    [
        (404, None, {}, None),
        (200, "application/vnd.docker.distribution.manifest.v1+prettyjws", MANIFEST, CONFIG),
        (200, DOCKER_MANIFEST, {**MANIFEST, "layers": []}, CONFIG),
        (200, DOCKER_MANIFEST, MANIFEST, None),
        (200, DOCKER_MANIFEST, MANIFEST, {"os": "linux", "architecture": "arm64"}),
        (200, DOCKER_MANIFEST, {**MANIFEST, "schemaVersion": 1}, CONFIG),
    ],
)
def test_manifest_invalid(
    status: int, media: str | None, manifest: dict[str, object], config: dict[str, str] | None
) -> None:
    assert manifest_valid("r", "v1", status, media, manifest, config, "linux/amd64").label is Label.FAIL


def test_index_platforms() -> None:
    index = {
        "mediaType": OCI_INDEX,
        "manifests": [
            {"digest": "sha256:arm", "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
            {"digest": "sha256:amd", "platform": {"os": "linux", "architecture": "amd64"}},
        ],
    }
    platforms = index_platforms(index)
    assert platforms[str(match_platform(platforms, "linux/amd64"))] == "sha256:amd"
    assert platform_in_index("r", "v1", platforms, "linux/arm64").label is Label.PASS
    assert platform_in_index("r", "v1", platforms, "linux/s390x").label is Label.FAIL


def test_retention() -> None:
    assert retention("r", ["v0.8.0", "v0.9.0", "v1.0.0", "latest"], 3).label is Label.PASS
    assert retention("r", ["v0.7.0", "v0.8.0", "v0.9.0", "v1.0.0", "latest"], 3).label is Label.FAIL
    assert retention("r", ["latest"], 3).label is Label.FAIL
    assert retention("r", None, 3).label is Label.FAIL


def test_unreachable_registry_is_a_source_error_in_bounded_time() -> None:
    src = RegistrySource(Registry(url=f"http://127.0.0.1:{free_port()}", timeout_s=1))
    started = time.monotonic()
    with pytest.raises(SourceError, match="registry"):
        src.tags("nova-auth-service")
    with pytest.raises(SourceError):
        src.manifest("nova-auth-service", "v1.0.0", head=True)
    assert time.monotonic() - started < 10
    src.close()


def test_image_valid_decides_index_and_manifest_in_the_rule() -> None:
    from nova_gate.backends.registry.facts import ImageFacts, ManifestFacts
    from nova_gate.backends.registry.rules import image_valid

    body = {"schemaVersion": 2, "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
            "digest": "sha256:c"}, "layers": [{"digest": "sha256:l"}]}  # fmt: skip
    config = {"os": "linux", "architecture": "amd64"}
    plain = ManifestFacts("r", "v1", 200, DOCKER_MANIFEST, "sha256:m", body)
    assert image_valid("r", "v1", ImageFacts(plain, None, plain, config), "linux/amd64").label is Label.PASS
    index = ManifestFacts("r", "v1", 200, OCI_INDEX, "sha256:i", {})
    missing = image_valid("r", "v1", ImageFacts(index, {"linux/arm64": "sha256:a"}, None, None), "linux/amd64")
    assert missing.label is Label.FAIL and "index has no linux/amd64" in missing.reason
    child = ManifestFacts("r", "sha256:a", 200, DOCKER_MANIFEST, "sha256:a", body)
    found = ImageFacts(index, {"linux/amd64": "sha256:a"}, child, config)
    assert image_valid("r", "v1", found, "linux/amd64").label is Label.PASS
    no_config = ImageFacts(index, {"linux/amd64": "sha256:a"}, child, None)
    assert image_valid("r", "v1", no_config, "linux/amd64").label is Label.FAIL
