"""Building the sandbox's Kubernetes from source: etcd, kube-apiserver, controller-manager,
scheduler, kubectl and kwok, through the Go module proxy.

The build (only when a binary is missing) happens in a throwaway Go module under
``~/.cache/nova-gate/kube/<version>/src`` -- never in the repo. The recipe is ``_K8S_GO_MOD`` +
``go build`` below; build output is logged to ``.sandbox/logs/kube-build-*.log``.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from nova_gate.sandbox.base import SandboxError, cache_dir, progress, state_dir

K8S_VERSION = "v1.34.4"


ETCD_VERSION = "v3.5.35"


KWOK_VERSION = "v0.8.0"


#: every k8s.io staging module k8s.io/kubernetes points at ./staging/src/...; the proxy has each
#: published at v0.<minor>.<patch>
STAGING = (
    "api", "apiextensions-apiserver", "apimachinery", "apiserver", "cli-runtime", "client-go",
    "cloud-provider", "cluster-bootstrap", "code-generator", "component-base", "component-helpers",
    "controller-manager", "cri-api", "cri-client", "csi-translation-lib",
    "dynamic-resource-allocation", "endpointslice", "externaljwt", "kms", "kube-aggregator",
    "kube-controller-manager", "kube-proxy", "kube-scheduler", "kubectl", "kubelet", "metrics",
    "mount-utils", "pod-security-admission", "sample-apiserver", "sample-cli-plugin",
    "sample-controller",
)  # fmt: skip


_K8S_GO_MOD = """module nova-gate.local/kube-build

go 1.24.0

require k8s.io/kubernetes {version}

replace (
{replaces}
)
"""


_ETCD_GO_MOD = """module nova-gate.local/etcd-build

go 1.24.0

require go.etcd.io/etcd/server/v3 {version}
"""


_TOOLS_GO = """//go:build tools

package tools

import (
{imports}
)
"""


K8S_BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")


def bin_dir(version: str = K8S_VERSION) -> Path:
    return cache_dir() / "kube" / version / "bin"


def _go_env() -> dict[str, str]:
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GOMAXPROCS": "2", "CGO_ENABLED": "0"}
    return env


def _go(argv: list[str], cwd: Path, log: Path, timeout: float = 3600, what: str | None = None) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with progress(what or f"kubernetes: {' '.join(argv[:3])}", log), open(log, "ab") as out:
        out.write(f"\n$ (cd {cwd} && {' '.join(argv)})\n".encode())
        out.flush()
        try:
            proc = subprocess.run(
                argv,
                cwd=cwd,
                env=_go_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise SandboxError(f"kubernetes: {' '.join(argv[:3])} timed out; see {log}") from exc
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-6:]
        raise SandboxError(f"kubernetes: {' '.join(argv[:3])} failed: {' | '.join(tail)}")


def _ldflags(version: str) -> str:
    major, minor = version.lstrip("v").split(".")[:2]
    flags = []
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {pkg}.gitVersion={version}",
            f"-X {pkg}.gitMajor={major}",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitTreeState=clean",
            f"-X {pkg}.buildDate=2026-01-01T00:00:00Z",
        ]
    return "-s -w " + " ".join(flags)


def build_kubernetes(version: str = K8S_VERSION, log_dir: Path | None = None) -> None:
    """kube-apiserver, kube-controller-manager, kube-scheduler from k8s.io/kubernetes."""
    out = bin_dir(version)
    if all((out / b).exists() for b in K8S_BINARIES):
        return
    log = (log_dir or state_dir() / "logs") / "kube-build-kubernetes.log"
    src = cache_dir() / "kube" / version / "src" / "kubernetes"
    src.mkdir(parents=True, exist_ok=True)
    staging_version = "v0." + version.lstrip("v").split(".", 1)[1]
    replaces = "\n".join(f"\tk8s.io/{m} => k8s.io/{m} {staging_version}" for m in STAGING)
    (src / "go.mod").write_text(_K8S_GO_MOD.format(version=version, replaces=replaces))
    pkgs = [f"k8s.io/kubernetes/cmd/{b}" for b in K8S_BINARIES]
    (src / "tools.go").write_text(_TOOLS_GO.format(imports="\n".join(f'\t_ "{p}"' for p in pkgs)))
    _go(["go", "mod", "tidy", "-e"], src, log, what="kubernetes: go mod tidy (module downloads), control plane")
    out.mkdir(parents=True, exist_ok=True)
    _go(["go", "build", "-p", "2", "-trimpath", "-ldflags", _ldflags(version), "-o", f"{out}/", *pkgs],
        src, log, what=f"kubernetes: building {', '.join(K8S_BINARIES)} {version} (about 11 min cold)")  # fmt: skip


def build_etcd(version: str = ETCD_VERSION, log_dir: Path | None = None) -> None:
    out = bin_dir()
    if (out / "etcd").exists():
        return
    log = (log_dir or state_dir() / "logs") / "kube-build-etcd.log"
    src = cache_dir() / "kube" / K8S_VERSION / "src" / "etcd"
    src.mkdir(parents=True, exist_ok=True)
    (src / "go.mod").write_text(_ETCD_GO_MOD.format(version=version))
    (src / "tools.go").write_text(_TOOLS_GO.format(imports='\t_ "go.etcd.io/etcd/server/v3"'))
    _go(["go", "mod", "tidy", "-e"], src, log, what="kubernetes: go mod tidy (module downloads) for etcd")
    out.mkdir(parents=True, exist_ok=True)
    _go(["go", "build", "-p", "2", "-trimpath", "-ldflags", "-s -w", "-o", str(out / "etcd"),
         "go.etcd.io/etcd/server/v3"], src, log, what=f"kubernetes: building etcd {version}")  # fmt: skip


def build_kwok(version: str = KWOK_VERSION, log_dir: Path | None = None) -> None:
    out = bin_dir()
    if (out / "kwok").exists():
        return
    log = (log_dir or state_dir() / "logs") / "kube-build-kwok.log"
    src = cache_dir() / "kube" / K8S_VERSION / "src"
    src.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    previous = os.environ.get("GOBIN")
    os.environ["GOBIN"] = str(out)
    try:
        _go(["go", "install", "-p", "2", "-trimpath", "-ldflags", "-s -w",
             f"sigs.k8s.io/kwok/cmd/kwok@{version}"], src, log,
            what=f"kubernetes: building kwok {version}")  # fmt: skip
    finally:  # the caller's GOBIN back, or none
        if previous is None:
            os.environ.pop("GOBIN", None)
        else:
            os.environ["GOBIN"] = previous


def build_all() -> float:
    """Build whatever is missing; return seconds spent."""
    t0 = time.monotonic()
    build_etcd()
    build_kwok()
    build_kubernetes()
    return time.monotonic() - t0


def kwok_stage_dir() -> Path:
    modcache = subprocess.run(
        ["go", "env", "GOMODCACHE"], capture_output=True, text=True, check=True, timeout=30
    ).stdout.strip()
    path = Path(modcache) / f"sigs.k8s.io/kwok@{KWOK_VERSION}" / "kustomize" / "stage"
    if not path.is_dir():
        # the module source is only needed for its stage YAML: fetch it (no build)
        src = cache_dir() / "kube" / K8S_VERSION / "src"
        log = state_dir() / "logs" / "kube-build-kwok.log"
        _go(["go", "mod", "download", f"sigs.k8s.io/kwok@{KWOK_VERSION}"], src, log)
    return path
