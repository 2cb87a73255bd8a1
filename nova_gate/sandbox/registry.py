"""A Docker Distribution registry (Debian's docker-registry) on 55000 holding the Nova images.

After start, every service gets repository ``nova-<service>`` with tags v0.8.0, v0.9.0, v1.0.0 and
latest (latest is the very manifest of v1.0.0), pushed over the registry HTTP API v2 only: a small
gzip tar layer, an image config (linux/amd64) and a Docker schema2 manifest. Layers and configs
are built deterministically, so a re-push yields the same digests.

The registry is locked the way GHCR, Harbor or ECR lock theirs: ``auth: token``. A small token
server (``registry_token.py``, port 55001) hands out JWTs after Docker's token specification; the
gates' user (``nova-gate``, environments/sandbox.yaml) gets ``pull`` only, the sandbox's own release
steps push and delete as ``nova-release`` (a random password kept in .sandbox/registry/). Every
client here answers the ``WWW-Authenticate: Bearer`` challenge with ``nova_gate.backends.registry.auth``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import secrets
import sys
import tarfile
from pathlib import Path
from typing import Any

import httpx

from nova_gate.backends.registry.auth import RegistryAuthError, RegistryTokenAuth
from nova_gate.sandbox import ports
from nova_gate.sandbox.base import (
    Component,
    Fault,
    Health,
    SandboxError,
    pid_alive,
    port_open,
    state_dir,
    wait_port,
)
from nova_gate.sandbox.pki import sandbox_ca
from nova_gate.sandbox.registry_token import user_entry

BINARY = "/usr/bin/docker-registry"
URL = f"http://{ports.HOST}:{ports.REGISTRY}"
TOKEN_REALM = f"http://{ports.HOST}:{ports.REGISTRY_TOKEN}/token"
TOKEN_SERVICE = "nova-sandbox-registry"
TOKEN_ISSUER = "nova-sandbox-token-server"
#: the gates' identity (environments/sandbox.yaml backends.registry): pull only
GATES_USER, GATES_PASSWORD_ENV = "nova-gate", "NOVA_GATE_REGISTRY_PASSWORD"
GATES_PASSWORD_DEFAULT = "sandbox-registry-ro"
#: the sandbox's release steps (push, retention faults)
RELEASE_USER = "nova-release"
PREFIX = "nova-"
VERSIONS = ("v0.8.0", "v0.9.0", "v1.0.0")
RELEASE = "v1.0.0"
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_V1 = "application/vnd.docker.container.image.v1+json"
LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
WRONG_PLATFORM_SERVICE = "media-service"
EXTRA_VERSION_SERVICE, EXTRA_VERSION = "content-service", "v0.7.0"
#: the retention fault keeps the three *oldest* versions: the running one is deleted, an older one kept
RETENTION_FAULT_SERVICE = "messaging-service"
EPOCH = 1_767_225_600  # 2026-01-01T00:00:00Z, the mtime of every file in the layers
CREATED = {
    "v0.7.0": "2026-06-30T10:00:00Z",  # only pushed by the registry-extra-version fault
    "v0.8.0": "2026-08-04T10:00:00Z",
    "v0.9.0": "2026-09-15T10:00:00Z",
    "v1.0.0": "2026-11-20T10:00:00Z",
}


def repository(service: str) -> str:
    return f"{PREFIX}{service}"


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _layer(service: str, version: str) -> tuple[bytes, bytes]:
    """(uncompressed tar, gzip of it), reproducible byte for byte."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        files = {
            f"app/{service}/VERSION": f"{version}\n".encode(),
            f"app/{service}/release.json": json.dumps(
                {"service": service, "version": version, "built": CREATED[version]}, sort_keys=True
            ).encode(),
        }
        for directory in ("app", f"app/{service}"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, EPOCH
            tar.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, EPOCH
            tar.addfile(info, io.BytesIO(data))
    tar_bytes = raw.getvalue()
    return tar_bytes, gzip.compress(tar_bytes, compresslevel=6, mtime=0)


def build_image(service: str, version: str, architecture: str = "amd64") -> dict[str, Any]:
    """Blobs and manifest of one image: {"blobs": {digest: bytes}, "manifest": bytes}."""
    tar_bytes, layer = _layer(service, version)
    port = ports.SERVICES.get(service, 8080)
    config = {
        "architecture": architecture,
        "os": "linux",
        "created": CREATED[version],
        "config": {
            "Entrypoint": [f"/app/{service}/{service}"],
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "RUST_LOG=info"],
            "ExposedPorts": {f"{port}/tcp": {}},
            "User": "10001:10001",
            "WorkingDir": f"/app/{service}",
            "Labels": {
                "org.opencontainers.image.title": service,
                "org.opencontainers.image.version": version,
                "org.opencontainers.image.source": f"https://git.nova.test/nova/backend/{service}",
            },
        },
        "rootfs": {"type": "layers", "diff_ids": [_sha256(tar_bytes)]},
        "history": [{"created": CREATED[version], "created_by": f"COPY {service} /app/{service}/ # buildkit"}],
    }
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_V2,
        "config": {"mediaType": CONFIG_V1, "size": len(config_bytes), "digest": _sha256(config_bytes)},
        "layers": [{"mediaType": LAYER_GZIP, "size": len(layer), "digest": _sha256(layer)}],
    }
    manifest_bytes = json.dumps(manifest, indent=3).encode()
    return {"blobs": {_sha256(config_bytes): config_bytes, _sha256(layer): layer}, "manifest": manifest_bytes}


def release_password(root: Path | None = None) -> str:
    """The release user's password: random, made once, kept 0600 in the registry's state."""
    path = (root or state_dir()) / "registry" / "release-password"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text().strip()


def gates_password() -> str:
    return os.environ.get(GATES_PASSWORD_ENV) or GATES_PASSWORD_DEFAULT


class RegistryClient:
    """The few registry API v2 calls the sandbox needs, as the release user unless told otherwise."""

    def __init__(
        self, url: str = URL, timeout: float = 10, username: str = RELEASE_USER, password: str | None = None
    ) -> None:
        if password is None:
            password = release_password() if username == RELEASE_USER else gates_password()
        self.http = httpx.Client(base_url=url, timeout=timeout, auth=RegistryTokenAuth(username, password))

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check(self, resp: httpx.Response, what: str, *ok: int) -> httpx.Response:
        if resp.status_code not in ok:
            raise SandboxError(f"registry: {what} answered {resp.status_code}: {resp.text[:200]}")
        return resp

    def has_blob(self, repo: str, digest: str) -> bool:
        return self.http.head(f"/v2/{repo}/blobs/{digest}").status_code == 200

    def push_blob(self, repo: str, digest: str, data: bytes) -> None:
        if self.has_blob(repo, digest):
            return
        start = self._check(self.http.post(f"/v2/{repo}/blobs/uploads/"), f"start upload to {repo}", 202)
        location = start.headers["Location"]
        # the Location carries upload state in its query; httpx's params= would replace it
        location += ("&" if "?" in location else "?") + f"digest={digest}"
        self._check(
            self.http.put(location, content=data, headers={"Content-Type": "application/octet-stream"}),
            f"upload {digest[:19]} to {repo}",
            201,
        )

    def manifest_digest(self, repo: str, ref: str) -> str | None:
        resp = self.http.head(f"/v2/{repo}/manifests/{ref}", headers={"Accept": MANIFEST_V2})
        return str(resp.headers["Docker-Content-Digest"]) if resp.status_code == 200 else None

    def get_manifest(self, repo: str, ref: str) -> bytes:
        resp = self.http.get(f"/v2/{repo}/manifests/{ref}", headers={"Accept": MANIFEST_V2})
        return self._check(resp, f"GET manifest {repo}:{ref}", 200).content

    def put_manifest(self, repo: str, tag: str, manifest: bytes) -> str:
        resp = self._check(
            self.http.put(f"/v2/{repo}/manifests/{tag}", content=manifest, headers={"Content-Type": MANIFEST_V2}),
            f"PUT manifest {repo}:{tag}",
            201,
        )
        return str(resp.headers.get("Docker-Content-Digest") or _sha256(manifest))

    def delete_manifest(self, repo: str, digest: str) -> None:
        self._check(self.http.delete(f"/v2/{repo}/manifests/{digest}"), f"DELETE {repo}@{digest[:19]}", 202, 404)

    def delete_tag(self, repo: str, tag: str, put_back: dict[str, bytes] | None = None) -> None:
        """Delete ``repo:tag`` by its digest (which removes every tag on that manifest), put the tags
        in ``put_back`` back, and check that ``tag`` is no longer listed."""
        digest = self.manifest_digest(repo, tag)
        if digest:
            self.delete_manifest(repo, digest)
            for other, manifest in (put_back or {}).items():
                self.put_manifest(repo, other, manifest)
        if tag in self.tags(repo):
            raise SandboxError(f"registry: {repo}:{tag} is still listed after the delete")

    def tags(self, repo: str) -> list[str]:
        resp = self.http.get(f"/v2/{repo}/tags/list")
        if resp.status_code == 404:
            return []
        return list(self._check(resp, f"tags of {repo}", 200).json().get("tags") or [])

    def push_image(self, repo: str, image: dict[str, Any], *tags: str) -> str:
        for digest, data in image["blobs"].items():
            self.push_blob(repo, digest, data)
        digest = ""
        for tag in tags:
            digest = self.put_manifest(repo, tag, image["manifest"])
        return digest


class Registry(Component):
    name = "registry"

    apt_packages = ((BINARY, "docker-registry"),)

    def _config(self) -> Path:
        storage = self.subdir("storage")
        path = self.dir / "config.yml"
        path.write_text(
            "\n".join(
                [
                    "# written by nova-gate's sandbox",
                    "version: 0.1",
                    "log:",
                    "  level: info",
                    "  fields:",
                    "    service: registry",
                    "storage:",
                    "  filesystem:",
                    f"    rootdirectory: {storage}",
                    "  delete:",
                    "    enabled: true",
                    "  cache:",
                    "    blobdescriptor: inmemory",
                    "http:",
                    f"  addr: {ports.HOST}:{ports.REGISTRY}",
                    "  headers:",
                    "    X-Content-Type-Options: [nosniff]",
                    "auth:",
                    "  token:",
                    f"    realm: {TOKEN_REALM}",
                    f"    service: {TOKEN_SERVICE}",
                    f"    issuer: {TOKEN_ISSUER}",
                    f"    rootcertbundle: {sandbox_ca().ensure()}",
                    "health:",
                    "  storagedriver:",
                    "    enabled: true",
                    "    interval: 10s",
                    "    threshold: 3",
                    "",
                ]
            )
        )
        return path

    def _token_server(self) -> None:
        signer = sandbox_ca().issue("registry-token-signer", "nova-sandbox-registry-token", key_type="rsa")
        key, cert = signer.key, signer.cert
        users = {
            GATES_USER: user_entry(gates_password(), {f"{PREFIX}*": ["pull"]}),
            RELEASE_USER: user_entry(
                release_password(self.root), {"*": ["pull", "push", "delete"], "registry:catalog": ["*"]}
            ),
        }
        path = self.dir / "token-users.json"
        path.write_text(json.dumps(users, indent=1))
        path.chmod(0o600)
        pid = self.pid("registry-token")
        if pid and pid_alive(pid):
            self.stop_process("registry-token", timeout=10)  # reload the users
        if port_open(ports.REGISTRY_TOKEN):
            raise SandboxError(f"registry: port {ports.REGISTRY_TOKEN} is taken by a process the sandbox did not start")
        self.spawn(
            "registry-token",
            [
                sys.executable, "-m", "nova_gate.sandbox.registry_token", f"--host={ports.HOST}",
                f"--port={ports.REGISTRY_TOKEN}", f"--users={path}", f"--key={key}", f"--cert={cert}",
                f"--issuer={TOKEN_ISSUER}", f"--service={TOKEN_SERVICE}",
            ],
        )  # fmt: skip
        wait_port(ports.REGISTRY_TOKEN, "registry token server", timeout=20)

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self._token_server()
        if not self.running("registry", ports.REGISTRY):
            self.spawn("registry", [BINARY, "serve", str(self._config())])
        self.wait_started("registry", self._api_ok, f"registry API at {URL}/v2/", 30)
        self.push_all()

    def _api_ok(self) -> bool:
        try:
            with RegistryClient(timeout=2) as client:
                return bool(client.http.get("/v2/").status_code == 200)
        except (httpx.HTTPError, RegistryAuthError):
            return False

    def push_all(self) -> None:
        """Push every service's images; skip tags that already point at the expected manifest."""
        with RegistryClient() as client:
            for service in ports.SERVICES:
                repo = repository(service)
                for version in VERSIONS:
                    image = build_image(service, version)
                    tags = [version, "latest"] if version == RELEASE else [version]
                    expected = _sha256(image["manifest"])
                    missing = [t for t in tags if client.manifest_digest(repo, t) != expected]
                    if missing:
                        client.push_image(repo, image, *missing)

    def health(self) -> Health:
        problems = []
        if not self._api_ok():
            problems.append(f"{URL}/v2/ not answering")
        else:
            with RegistryClient() as client:
                for service in ports.SERVICES:
                    tags = set(client.tags(repository(service)))
                    lacking = [t for t in (*VERSIONS, "latest") if t not in tags]
                    if lacking:
                        problems.append(f"{repository(service)} lacks {','.join(lacking)}")
        return Health(not problems, URL, self.pids(), "; ".join(problems) or f"{len(ports.SERVICES)} repositories")

    # -- faults -----------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Every repository's tags and the manifest digest each points at."""
        with RegistryClient() as client:
            repos = client._check(client.http.get("/v2/_catalog?n=1000"), "catalog", 200).json()["repositories"]
            out = {
                repo: {tag: client.manifest_digest(repo, tag) for tag in sorted(client.tags(repo))} for repo in repos
            }
        return {**super().snapshot(), "repositories": out}

    def faults(self) -> list[Fault]:
        return [
            Fault(
                "registry-tag-missing",
                "nova-feed-service has no v1.0.0 tag (manifest deleted)",
                ("IMG-1",),
                self._delete_release_tag,
                self._restore_release_tag,
                self.name,
            ),
            Fault(
                "registry-latest-elsewhere",
                "nova-auth-service:latest points at the v0.9.0 manifest",
                ("IMG-2",),
                self._latest_to_old,
                self._latest_back,
                self.name,
            ),
            Fault(
                "registry-wrong-platform",
                f"nova-{WRONG_PLATFORM_SERVICE}:{RELEASE} (and latest) is a linux/arm64 image",
                ("IMG-3",),
                lambda: self._push_release(WRONG_PLATFORM_SERVICE, "arm64"),
                lambda: self._push_release(WRONG_PLATFORM_SERVICE, "amd64"),
                self.name,
            ),
            Fault(
                "registry-retention-deleted-running",
                f"a retention job on nova-{RETENTION_FAULT_SERVICE} kept the three oldest versions: "
                f"{EXTRA_VERSION} pushed back, the running {RELEASE} deleted (still 3 versions)",
                ("P24-10",),
                self._retain_oldest,
                self._retain_newest,
                self.name,
            ),
            Fault(
                "registry-extra-version",
                f"nova-{EXTRA_VERSION_SERVICE} still holds {EXTRA_VERSION} (4 versions retained)",
                ("P24-10",),
                self._push_extra_version,
                self._delete_extra_version,
                self.name,
            ),
        ]

    def _push_release(self, service: str, architecture: str) -> None:
        with RegistryClient() as client:
            image = build_image(service, RELEASE, architecture)
            client.push_image(repository(service), image, RELEASE, "latest")

    def _push_extra_version(self) -> None:
        with RegistryClient() as client:
            repo = repository(EXTRA_VERSION_SERVICE)
            client.push_image(repo, build_image(EXTRA_VERSION_SERVICE, EXTRA_VERSION), EXTRA_VERSION)

    def _delete_extra_version(self) -> None:
        repo = repository(EXTRA_VERSION_SERVICE)
        with RegistryClient() as client:
            client.delete_tag(repo, EXTRA_VERSION)

    def _retain_oldest(self) -> None:
        repo = repository(RETENTION_FAULT_SERVICE)
        with RegistryClient() as client:
            client.push_image(repo, build_image(RETENTION_FAULT_SERVICE, EXTRA_VERSION), EXTRA_VERSION)
            client.delete_tag(repo, RELEASE)  # latest goes too; the deployment still pulls by its tag

    def _retain_newest(self) -> None:
        repo = repository(RETENTION_FAULT_SERVICE)
        with RegistryClient() as client:
            client.push_image(repo, build_image(RETENTION_FAULT_SERVICE, RELEASE), RELEASE, "latest")
            client.delete_tag(repo, EXTRA_VERSION)

    def _delete_release_tag(self) -> None:
        repo = repository("feed-service")
        image = build_image("feed-service", RELEASE)
        with RegistryClient() as client:
            client.delete_tag(repo, RELEASE, put_back={"latest": image["manifest"]})

    def _restore_release_tag(self) -> None:
        repo = repository("feed-service")
        with RegistryClient() as client:
            client.push_image(repo, build_image("feed-service", RELEASE), RELEASE, "latest")

    def _latest_to_old(self) -> None:
        with RegistryClient() as client:
            client.push_image(repository("auth-service"), build_image("auth-service", "v0.9.0"), "latest")

    def _latest_back(self) -> None:
        with RegistryClient() as client:
            client.push_image(repository("auth-service"), build_image("auth-service", RELEASE), "latest")
