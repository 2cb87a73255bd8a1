"""A real Kubernetes control plane on loopback: etcd, kube-apiserver, controller-manager, scheduler
and kwok (fake nodes and kubelets), all built from source through the Go module proxy.

Build (``install``, only when a binary is missing) happens in a throwaway Go module under
``~/.cache/nova-gate/kube/<version>/src`` -- never in the repo. The recipe is ``_K8S_GO_MOD`` +
``go build`` below; build output is logged to ``.sandbox/logs/kube-build-*.log``.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

from nova_gate.sandbox import ports
from nova_gate.sandbox.base import (
    Component,
    Fault,
    Health,
    SandboxError,
    Stage,
    cache_dir,
    progress,
    state_dir,
    wait_for,
    wait_port,
)

K8S_VERSION = "v1.34.4"
ETCD_VERSION = "v3.5.35"
KWOK_VERSION = "v0.8.0"
NAMESPACE = "nova-backend"
API_URL = f"https://{ports.HOST}:{ports.KUBE_APISERVER}"
SERVICE_CIDR = "10.96.0.0/16"
SERVICE_IP = "10.96.0.1"

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
    env_bin = {"GOBIN": str(out)}
    os.environ.update(env_bin)
    try:
        _go(["go", "install", "-p", "2", "-trimpath", "-ldflags", "-s -w",
             f"sigs.k8s.io/kwok/cmd/kwok@{version}"], src, log,
            what=f"kubernetes: building kwok {version}")  # fmt: skip
    finally:
        os.environ.pop("GOBIN", None)


def build_all() -> float:
    """Build whatever is missing; return seconds spent."""
    t0 = time.monotonic()
    build_etcd()
    build_kwok()
    build_kubernetes()
    return time.monotonic() - t0


# ==============================================================================================
# Certificates and kubeconfigs
# ==============================================================================================
def _pki(pki: Path) -> None:
    """The cluster's own CA (its trust domain, as in a real cluster), serving and client certs.

    Made by nova_gate/sandbox/pki.py like every other sandbox certificate; kept while valid.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from nova_gate.sandbox.pki import LocalCA

    ca = LocalCA(pki, "nova-sandbox-kube-ca")
    hosts = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "127.0.0.1", SERVICE_IP)
    ca.server("apiserver", hosts, common_name="kube-apiserver")
    ca.server("kubelet", hosts, common_name="kwok-kubelet")
    ca.client("apiserver-kubelet-client", "kube-apiserver-kubelet-client", ("system:masters",))
    ca.client("controller-manager", "system:kube-controller-manager")
    ca.client("scheduler", "system:kube-scheduler")
    ca.client("kwok", "kwok-controller", ("system:masters",))
    ca.client("admin", "nova-sandbox-admin", ("system:masters",))
    if not (pki / "sa.key").exists():  # the service-account signing key: tokens outlive a restart
        sa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key = sa.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        (pki / "sa.key").write_bytes(key)
        (pki / "sa.key").chmod(0o600)
        (pki / "sa.pub").write_bytes(
            sa.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )


def _kubeconfig(path: Path, pki: Path, user: str) -> None:
    import yaml

    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "nova-sandbox", "cluster": {"server": API_URL, "certificate-authority": str(pki / "ca.crt")}}
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate": str(pki / f"{user}.crt"),
                    "client-key": str(pki / f"{user}.key"),
                },
            }
        ],
        "contexts": [{"name": "nova-sandbox", "context": {"cluster": "nova-sandbox", "user": user}}],
        "current-context": "nova-sandbox",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    path.chmod(0o600)


# ==============================================================================================
# kwok: stages (pod ready, plus the sandbox's fault stages) and container logs
# ==============================================================================================
FAULT_LABEL = "nova.sandbox/fault"  # on a pod (or a pod template): "not-ready" | "crashloop" | "init-crashloop"
_POD_IPS = """
      {{ $hostIPs := NodeIPsWith .spec.nodeName }}
      {{ with $hostIPs }}
      hostIP: {{ index . 0 | Quote }}
      {{ end }}
      {{ $podIPs := PodIPsWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) }}
      {{ with $podIPs }}
      podIP: {{ index . 0 | Quote }}
      {{ end }}
      phase: Running
      startTime: {{ or .status.startTime $now | Quote }}
"""  # noqa: E501
_FAULT_STAGES = """
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: nova-pod-not-ready
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
    - {key: '.metadata.deletionTimestamp', operator: DoesNotExist}
    - {key: '.metadata.labels["nova.sandbox/fault"]', operator: In, values: ['not-ready']}
    - {key: '.status.conditions.[] | select( .type == "Ready" ) | .status', operator: NotIn, values: ['False']}
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - {lastTransitionTime: {{ $now | Quote }}, status: "True", type: Initialized}
      - {lastTransitionTime: {{ $now | Quote }}, status: "True", type: PodScheduled}
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        type: Ready
        reason: ContainersNotReady
        message: "Readiness probe failed: HTTP probe failed with statuscode: 503"
      - {lastTransitionTime: {{ $now | Quote }}, status: "False", type: ContainersReady, reason: ContainersNotReady}
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        started: true
        restartCount: 0
        state:
          running:
            startedAt: {{ $now | Quote }}
      {{ end }}
@POD_IPS@
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: nova-pod-crashloop
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
    - {key: '.metadata.deletionTimestamp', operator: DoesNotExist}
    - {key: '.metadata.labels["nova.sandbox/fault"]', operator: In, values: ['crashloop']}
    - {key: '.status.phase', operator: In, values: ['Running']}
    - {key: '.status.containerStatuses.[].state.waiting.reason', operator: NotIn, values: ['CrashLoopBackOff']}
  next:
    statusTemplate: |
      {{ $now := Now }}
      {{ $pod := .metadata.name }}
      conditions:
      - {lastTransitionTime: {{ $now | Quote }}, status: "True", type: Initialized}
      - {lastTransitionTime: {{ $now | Quote }}, status: "True", type: PodScheduled}
      - {lastTransitionTime: {{ $now | Quote }}, status: "False", type: Ready, reason: ContainersNotReady}
      - {lastTransitionTime: {{ $now | Quote }}, status: "False", type: ContainersReady, reason: ContainersNotReady}
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        started: false
        restartCount: 6
        lastState:
          terminated:
            exitCode: 101
            reason: Error
            message: "thread 'main' panicked: DATABASE_URL: connection refused"
            startedAt: {{ $now | Quote }}
            finishedAt: {{ $now | Quote }}
        state:
          waiting:
            reason: CrashLoopBackOff
            message: {{ printf "back-off 5m0s restarting failed container=%s pod=%s" .name $pod | Quote }}
      {{ end }}
@POD_IPS@
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: nova-pod-init-crashloop
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
    - {key: '.metadata.deletionTimestamp', operator: DoesNotExist}
    - {key: '.metadata.labels["nova.sandbox/fault"]', operator: In, values: ['init-crashloop']}
    - {key: '.spec.nodeName', operator: Exists}
    - {key: '.status.initContainerStatuses.[].state.waiting.reason', operator: NotIn, values: ['CrashLoopBackOff']}
  next:
    statusTemplate: |
      {{ $now := Now }}
      {{ $pod := .metadata.name }}
      phase: Pending
      conditions:
      - {lastTransitionTime: {{ $now | Quote }}, status: "False", type: Initialized, reason: ContainersNotInitialized}
      - {lastTransitionTime: {{ $now | Quote }}, status: "True", type: PodScheduled}
      - {lastTransitionTime: {{ $now | Quote }}, status: "False", type: Ready, reason: ContainersNotInitialized}
      - {lastTransitionTime: {{ $now | Quote }}, status: "False", type: ContainersReady, reason: ContainersNotReady}
      initContainerStatuses:
      {{ range .spec.initContainers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        started: false
        restartCount: 5
        lastState:
          terminated:
            exitCode: 1
            reason: Error
            message: "migrations not applied: timed out waiting for schema version"
            startedAt: {{ $now | Quote }}
            finishedAt: {{ $now | Quote }}
        state:
          waiting:
            reason: CrashLoopBackOff
            message: {{ printf "back-off 2m40s restarting failed container=%s pod=%s" .name $pod | Quote }}
      {{ end }}
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        started: false
        restartCount: 0
        state:
          waiting:
            reason: PodInitializing
      {{ end }}
      {{ $hostIPs := NodeIPsWith .spec.nodeName }}
      {{ with $hostIPs }}
      hostIP: {{ index . 0 | Quote }}
      {{ end }}
      startTime: {{ or .status.startTime $now | Quote }}
"""


def _kwok_stage_dir() -> Path:
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


def kwok_config(path: Path, log_dir: Path, services: list[str]) -> None:
    """kwok's default stages (from the kwok module source) + the sandbox's fault stages + logs."""
    import yaml

    stage_dir = _kwok_stage_dir()
    docs: list[dict[str, object]] = []
    for rel in (
        "node/fast/node-initialize.yaml",
        "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
        "pod/fast/pod-ready.yaml",
        "pod/fast/pod-complete.yaml",
        "pod/fast/pod-delete.yaml",
    ):
        doc = yaml.safe_load((stage_dir / rel).read_text())
        if doc["metadata"]["name"] == "pod-ready":
            # a pod labelled with a sandbox fault never becomes ready through the default stage
            doc["spec"]["selector"]["matchExpressions"].append(
                {
                    "key": f'.metadata.labels["{FAULT_LABEL}"]',
                    "operator": "NotIn",
                    "values": ["not-ready", "init-crashloop"],
                }
            )
        docs.append(doc)
    docs += list(yaml.safe_load_all(_FAULT_STAGES.replace("@POD_IPS@", _POD_IPS)))
    docs.append(
        {
            "apiVersion": "kwok.x-k8s.io/v1alpha1",
            "kind": "ClusterLogs",
            "metadata": {"name": "nova-backend-logs"},
            "spec": {
                "selector": {"matchNamespaces": [NAMESPACE]},
                "logs": [{"containers": [s], "logsFile": str(log_dir / f"{s}.log"), "follow": False} for s in services],
            },
        }
    )
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))


# ==============================================================================================
# The release on the cluster: Deployments <service>-<version> and Services <service>
# ==============================================================================================
def _release() -> tuple[list[tuple[str, int, int]], list[str], str, str]:
    """[(service, port, pool_size)], required env names, baseline and new version (sandbox.yaml)."""
    from nova_gate.config import load_environment

    env = load_environment("sandbox").env
    services = [(s.name, s.port, s.pool_size) for s in env.release.services]
    return services, list(env.expectations.required_env), env.release.baseline_version, env.release.version


_ENV_VALUES = {
    "DATABASE_URL": "postgres://nova_app@127.0.0.1:55432/nova",
    "REDIS_URL": "redis://127.0.0.1:56379/0",
    "KAFKA_BROKERS": "127.0.0.1:59192,127.0.0.1:59193,127.0.0.1:59194",
    "JWT_ISSUER": "https://auth.nova.local",
    "RUST_LOG": "info",
}
REQUESTS = {"cpu": "250m", "memory": "256Mi"}
LIMITS = {"cpu": "1", "memory": "512Mi"}


def deployment_body(service: str, port: int, pool: int, version: str, replicas: int, required: list[str]) -> dict:
    env = [{"name": n, "value": str(pool) if n == "DB_POOL_SIZE" else _ENV_VALUES.get(n, "set")} for n in required]
    labels = {"app": service, "version": version}
    probe = {"periodSeconds": 10, "timeoutSeconds": 2, "failureThreshold": 3}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"{service}-{version}", "namespace": NAMESPACE, "labels": dict(labels)},
        "spec": {
            "replicas": replicas,
            "revisionHistoryLimit": 2,
            "selector": {"matchLabels": dict(labels)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "terminationGracePeriodSeconds": 5,
                    "containers": [
                        {
                            "name": service,
                            "image": f"127.0.0.1:55000/nova-{service}:{version}",
                            "ports": [{"name": "http", "containerPort": port}],
                            "env": env,
                            "resources": {"requests": dict(REQUESTS), "limits": dict(LIMITS)},
                            "readinessProbe": {"httpGet": {"path": "/api/v1/health/ready", "port": port}, **probe},
                            "livenessProbe": {"httpGet": {"path": "/api/v1/health/live", "port": port}, **probe},
                        }
                    ],
                },
            },
        },
    }


def service_body(service: str, port: int) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": service, "namespace": NAMESPACE, "labels": {"app": service}},
        "spec": {"selector": {"app": service}, "ports": [{"name": "http", "port": port, "targetPort": port}]},
    }


_CLIENT: object | None = None


def admin_kubeconfig() -> Path:
    """The sandbox's cluster-admin kubeconfig (written when the component starts)."""
    return state_dir() / "kube" / "kubeconfig"


def kubectl(
    *args: str, kubeconfig: Path | None = None, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the kubectl built with the control plane against ``kubeconfig`` (the admin's by default)."""
    binary = bin_dir() / "kubectl"
    if not binary.exists():
        raise SandboxError(f"kubernetes: no kubectl at {binary}; it is built with the sandbox's control plane")
    return subprocess.run(
        [str(binary), f"--kubeconfig={kubeconfig or admin_kubeconfig()}", "--request-timeout=20s", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _api() -> object:
    """An ApiClient on the sandbox's admin kubeconfig (cached per process)."""
    global _CLIENT
    if _CLIENT is None:
        from kubernetes import config as kconfig

        path = admin_kubeconfig()
        if not path.exists():
            raise SandboxError("kubernetes: no kubeconfig; run `nova-gate sandbox up --only kubernetes`")
        _CLIENT = kconfig.new_client_from_config(config_file=str(path))
    return _CLIENT


def _apps():
    from kubernetes import client

    return client.AppsV1Api(_api())


def _core():
    from kubernetes import client

    return client.CoreV1Api(_api())


def _status(exc: BaseException) -> int:
    return int(getattr(exc, "status", 0) or 0)


def _apply_deployment(body: dict) -> None:
    from kubernetes.client.exceptions import ApiException

    apps = _apps()
    try:
        apps.create_namespaced_deployment(NAMESPACE, body, _request_timeout=15)
    except ApiException as exc:
        if _status(exc) != 409:
            raise
        apps.replace_namespaced_deployment(body["metadata"]["name"], NAMESPACE, body, _request_timeout=15)


def _scale(name: str, replicas: int) -> None:
    _apps().patch_namespaced_deployment_scale(name, NAMESPACE, {"spec": {"replicas": replicas}}, _request_timeout=15)


def _delete_deployment(name: str) -> None:
    from kubernetes.client.exceptions import ApiException

    try:
        _apps().delete_namespaced_deployment(name, NAMESPACE, propagation_policy="Background", _request_timeout=15)
    except ApiException as exc:
        if _status(exc) != 404:
            raise


def _deployments() -> dict[str, Any]:
    items = _apps().list_namespaced_deployment(NAMESPACE, _request_timeout=15).items
    return {d.metadata.name: d for d in items}


def wait_release(want: dict[str, int], timeout: float = 120) -> None:
    """Wait until exactly the deployments in ``want`` exist, each rolled out to its replicas,
    and the namespace holds exactly that many pods, every one Ready."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            deps = _deployments()
            problems = [n for n in deps if n not in want] + [n for n in want if n not in deps]
            for name, replicas in want.items():
                d = deps.get(name)
                if d is None:
                    continue
                s = d.status
                if not (
                    (s.observed_generation or 0) >= d.metadata.generation
                    and d.spec.replicas == replicas
                    and (s.replicas or 0) == replicas
                    and (s.updated_replicas or 0) == replicas
                    and (s.ready_replicas or 0) == replicas
                ):
                    problems.append(f"{name} {s.ready_replicas or 0}/{replicas}")
            pods = _core().list_namespaced_pod(NAMESPACE, _request_timeout=15).items
            ready = [
                p
                for p in pods
                if p.metadata.deletion_timestamp is None
                and any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or []))
            ]
            if len(pods) != sum(want.values()) or len(ready) != len(pods):
                problems.append(f"pods {len(ready)} ready of {len(pods)}, want {sum(want.values())}")
            if not problems:
                return
            last = ", ".join(problems[:6])
        except Exception as exc:  # the API server may be restarting
            last = str(exc)[:200]
        time.sleep(0.5)
    raise SandboxError(f"kubernetes: release not settled after {timeout:.0f}s: {last}")


def _want(versions: dict[str, int]) -> dict[str, int]:
    services, *_ = _release()
    return {f"{s}-{v}": n for v, n in versions.items() for s, _, _ in services}


def _put_version(version: str, replicas: int) -> None:
    services, required, *_ = _release()
    for service, port, pool in services:
        _apply_deployment(deployment_body(service, port, pool, version, replicas, required))


def reset_release(wait: bool = True) -> None:
    """Back to the start state: only v0.9.0 (3 replicas each, spec as declared), Services present."""
    from kubernetes.client.exceptions import ApiException

    services, _, baseline, _ = _release()
    core = _core()
    try:
        core.create_namespace({"metadata": {"name": NAMESPACE}}, _request_timeout=15)
    except ApiException as exc:
        if _status(exc) != 409:
            raise
    for service, port, _ in services:
        try:
            core.create_namespaced_service(NAMESPACE, service_body(service, port), _request_timeout=15)
        except ApiException as exc:
            if _status(exc) != 409:
                raise
    for name in _deployments():
        if not name.endswith(f"-{baseline}"):
            _delete_deployment(name)
    _put_version(baseline, 3)
    _clear_pod_faults()
    _write_pod_logs(errors=False)
    if wait:
        wait_release(_want({baseline: 3}))


def canary(wait: bool = True) -> None:
    """kubectl apply the new version's Deployments with 1 replica each (version label VERSION)."""
    _, _, baseline, new = _release()
    _put_version(new, 1)
    if wait:
        wait_release(_want({baseline: 3, new: 1}))


def scale_half(wait: bool = True) -> None:
    """kubectl scale the new version to the old version's 3 replicas: a 50/50 split."""
    services, _, baseline, new = _release()
    for service, _, _ in services:
        _scale(f"{service}-{new}", 3)
    if wait:
        wait_release(_want({baseline: 3, new: 3}))


def rollout(wait: bool = True) -> None:
    """The new version at 3/3 ready everywhere (kubectl rollout status)."""
    services, _, baseline, new = _release()
    deps = _deployments()
    for service, _, _ in services:
        if f"{service}-{new}" not in deps:
            canary(wait=False)
            break
    for service, _, _ in services:
        _scale(f"{service}-{new}", 3)
    if wait:
        present = {n for n in _deployments() if n.endswith(f"-{baseline}")}
        want = _want({new: 3}) | {n: 3 for n in present}
        wait_release(want)


def drain_old(wait: bool = True) -> None:
    """kubectl delete the old version's Deployments."""
    services, _, baseline, new = _release()
    for service, _, _ in services:
        _delete_deployment(f"{service}-{baseline}")
    if wait:
        wait_release(_want({new: 3}))


def rollback(wait: bool = True) -> None:
    """New version scaled to 0, old version back to 3 (re-created when it was deleted)."""
    services, required, baseline, new = _release()
    deps = _deployments()
    for service, port, pool in services:
        if f"{service}-{baseline}" not in deps:
            _apply_deployment(deployment_body(service, port, pool, baseline, 3, required))
        else:
            _scale(f"{service}-{baseline}", 3)
    for service, _, _ in services:
        if f"{service}-{new}" in deps:
            _scale(f"{service}-{new}", 0)
    if wait:
        wait_release(_want({baseline: 3, new: 0}))


def _clear_pod_faults() -> None:
    """Delete pods carrying a sandbox fault label (their ReplicaSets make healthy ones)."""
    core = _core()
    for pod in core.list_namespaced_pod(NAMESPACE, label_selector=FAULT_LABEL, _request_timeout=15).items:
        core.delete_namespaced_pod(pod.metadata.name, NAMESPACE, grace_period_seconds=0, _request_timeout=15)


def _log_dir() -> Path:
    return state_dir() / "kube" / "podlogs"


def _write_pod_logs(errors: bool, service: str | None = None) -> None:
    """The container log files kwok serves through the kubelet API (CRI log format)."""
    services, *_ = _release()
    d = _log_dir()
    d.mkdir(parents=True, exist_ok=True)
    stamp = "2026-11-26T08:00:0{}.000000000Z"
    for name, port, _ in services:
        lines = [
            f'{stamp.format(0)} stdout F {{"level":"INFO","target":"{name}","msg":"listening on 0.0.0.0:{port}"}}',
            f'{stamp.format(1)} stdout F {{"level":"INFO","target":"{name}","msg":"database pool ready"}}',
            f'{stamp.format(2)} stdout F {{"level":"WARN","target":"{name}","msg":"slow request 812ms"}}',
        ]
        if errors and name == (service or name):
            lines += [
                f'{stamp.format(3)} stderr F {{"level":"ERROR","target":"{name}","msg":"upstream timeout"}}',
                f'{stamp.format(4)} stderr F {{"level":"ERROR","target":"{name}","msg":"db query failed"}}',
                f"{stamp.format(5)} stderr F thread 'tokio-runtime-worker' panicked at src/main.rs:42",
            ]
        (d / f"{name}.log").write_text("\n".join(lines) + "\n")


# ==============================================================================================
# The component
# ==============================================================================================
NODES = ("kwok-node-0", "kwok-node-1", "kwok-node-2")
NODE_ALLOCATABLE = {"cpu": "16", "memory": "64Gi", "pods": "110"}
NODE_SHRUNK = {"cpu": "4", "memory": "12Gi", "pods": "110"}


def node_body(
    name: str, allocatable: dict[str, str] = NODE_ALLOCATABLE, node_type: str = "kwok", taint: str | None = None
) -> dict[str, Any]:
    """A kwok fake node: labelled ``type=<node_type>``, ``allocatable`` as its capacity, and a
    ``<taint>=true:NoSchedule`` taint when ``taint`` is given (only tolerating pods land there)."""
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": node_type,
            },
        },
        "status": {"allocatable": dict(allocatable), "capacity": dict(allocatable)},
    }
    if taint is not None:
        body["spec"] = {"taints": [{"key": taint, "value": "true", "effect": "NoSchedule"}]}
    return body


def set_node_allocatable(resources: dict[str, str]) -> None:
    core = _core()
    for name in NODES:
        core.patch_node_status(
            name, {"status": {"allocatable": dict(resources), "capacity": dict(resources)}}, _request_timeout=15
        )


def ensure_nodes() -> None:
    from kubernetes.client.exceptions import ApiException

    core = _core()
    for name in NODES:
        try:
            core.create_node(node_body(name), _request_timeout=15)
        except ApiException as exc:
            if _status(exc) != 409:
                raise
        core.patch_node(name, {"spec": {"unschedulable": None}}, _request_timeout=15)
    set_node_allocatable(NODE_ALLOCATABLE)


#: the gates' identity: examples/kubernetes/rbac.yaml (ServiceAccount nova-gate/nova-gate bound to
#: the get/list/watch ClusterRole nova-gate-reader), its token written as a kubeconfig of its own
GATES_NAMESPACE = "nova-gate"
GATES_SERVICE_ACCOUNT = "nova-gate"
GATES_KUBECONFIG = "gates.kubeconfig"
#: lifetime of the gates' token; a sandbox start (or ``ensure_gates_identity``) requests a new one
GATES_TOKEN_TTL_S = 7 * 24 * 3600


def gates_kubeconfig_path() -> Path:
    """The gates' kubeconfig (environments/sandbox.yaml ``backends.kubernetes.kubeconfig``)."""
    return state_dir() / "kube" / GATES_KUBECONFIG


def _rbac_docs() -> list[dict[str, Any]]:
    import yaml

    from nova_gate.config import project_root

    text = (project_root() / "examples" / "kubernetes" / "rbac.yaml").read_text()
    return [d for d in yaml.safe_load_all(text) if d]


def request_token(namespace: str, service_account: str, ttl_s: int, audiences: list[str] | None = None) -> str:
    """A bound ServiceAccount token (TokenRequest API), requested with the admin identity."""
    from kubernetes import client

    spec = client.V1TokenRequestSpec(audiences=audiences or [], expiration_seconds=ttl_s)
    answer = _core().create_namespaced_service_account_token(
        service_account, namespace, client.AuthenticationV1TokenRequest(spec=spec), _request_timeout=15
    )
    return str(answer.status.token)


def token_kubeconfig(path: Path, token: str, user: str = "nova-gate") -> Path:
    """A kubeconfig for the sandbox's API server that authenticates with ``token`` only (mode 0600)."""
    import yaml

    pki = state_dir() / "kube" / "pki"
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "nova-sandbox", "cluster": {"server": API_URL, "certificate-authority": str(pki / "ca.crt")}}
        ],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": user, "context": {"cluster": "nova-sandbox", "user": user}}],
        "current-context": user,
    }
    tmp = path.with_suffix(".partial")
    tmp.write_text(yaml.safe_dump(doc))
    tmp.chmod(0o600)
    tmp.rename(path)
    return path


def ensure_gates_identity() -> Path:
    """Apply the example RBAC (idempotent), request the gates' token and write their kubeconfig.

    The gates read the cluster with this ServiceAccount only; the admin kubeconfig stays with the
    sandbox's own release steps (canary, scale, rollout, rollback) and faults.
    """
    from kubernetes import client, utils
    from kubernetes.client.exceptions import ApiException

    api = _api()
    for doc in _rbac_docs():
        try:
            utils.create_from_dict(api, doc)
        except utils.FailToCreateError as exc:
            if any(_status(e) != 409 for e in exc.api_exceptions):
                raise SandboxError(f"kubernetes: applying examples/kubernetes/rbac.yaml: {exc}") from exc
            if doc["kind"] == "ClusterRole":  # keep the rules equal to the example's
                rbac: Any = client.RbacAuthorizationV1Api(api)
                rbac.replace_cluster_role(doc["metadata"]["name"], doc, _request_timeout=15)
    deadline = time.monotonic() + 30
    while True:
        try:
            token = request_token(GATES_NAMESPACE, GATES_SERVICE_ACCOUNT, GATES_TOKEN_TTL_S)
            break
        except ApiException as exc:
            if _status(exc) != 404 or time.monotonic() > deadline:
                raise SandboxError(f"kubernetes: TokenRequest for {GATES_SERVICE_ACCOUNT}: {_status(exc)}") from exc
            time.sleep(0.5)
    return token_kubeconfig(gates_kubeconfig_path(), token)


class Kubernetes(Component):
    name = "kubernetes"

    def __init__(self, root: Path | None = None) -> None:
        super().__init__(root)
        self.dir = self.root / "kube"  # admin: kube/kubeconfig; the gates: kube/gates.kubeconfig
        self.bin = bin_dir()
        self.pki = self.dir / "pki"

    def install(self) -> None:
        build_all()

    def _ssl(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.pki / "ca.crt"))
        ctx.load_cert_chain(str(self.pki / "admin.crt"), str(self.pki / "admin.key"))
        return ctx

    def _get(self, path: str, timeout: float = 3) -> tuple[int, str]:
        import httpx

        try:
            r = httpx.get(API_URL + path, verify=self._ssl(), timeout=timeout)
        except (httpx.HTTPError, OSError) as exc:
            return 0, str(exc)
        return r.status_code, r.text

    def start(self) -> None:
        global _CLIENT
        _CLIENT = None
        services, *_ = _release()
        names = [s for s, _, _ in services]
        self.dir.mkdir(parents=True, exist_ok=True)
        _pki(self.pki)
        kc = self.dir / "kubeconfig"
        _kubeconfig(kc, self.pki, "admin")
        for user in ("controller-manager", "scheduler", "kwok"):
            _kubeconfig(self.dir / f"{user}.kubeconfig", self.pki, user)
        _write_pod_logs(errors=False)
        kwok_config(self.dir / "kwok.yaml", _log_dir(), names)
        b, p = self.bin, self.pki
        self.spawn(
            "kubernetes-etcd",
            [
                str(b / "etcd"), "--name=nova", f"--data-dir={self.dir / 'etcd'}",
                f"--listen-client-urls=http://{ports.HOST}:{ports.ETCD_CLIENT}",
                f"--advertise-client-urls=http://{ports.HOST}:{ports.ETCD_CLIENT}",
                f"--listen-peer-urls=http://{ports.HOST}:{ports.ETCD_PEER}",
                f"--initial-advertise-peer-urls=http://{ports.HOST}:{ports.ETCD_PEER}",
                f"--initial-cluster=nova=http://{ports.HOST}:{ports.ETCD_PEER}",
                "--unsafe-no-fsync", "--quota-backend-bytes=4294967296", "--snapshot-count=10000",
                "--log-level=warn",
            ],
            env={"GOMAXPROCS": "2"},
        )  # fmt: skip
        wait_port(ports.ETCD_CLIENT, "etcd", 30)
        self.spawn(
            "kubernetes-apiserver",
            [
                str(b / "kube-apiserver"),
                f"--etcd-servers=http://{ports.HOST}:{ports.ETCD_CLIENT}",
                f"--bind-address={ports.HOST}", f"--advertise-address={ports.HOST}",
                f"--secure-port={ports.KUBE_APISERVER}",
                f"--tls-cert-file={p / 'apiserver.crt'}", f"--tls-private-key-file={p / 'apiserver.key'}",
                f"--client-ca-file={p / 'ca.crt'}",
                f"--service-account-key-file={p / 'sa.pub'}",
                f"--service-account-signing-key-file={p / 'sa.key'}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                "--authorization-mode=Node,RBAC",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                f"--kubelet-client-certificate={p / 'apiserver-kubelet-client.crt'}",
                f"--kubelet-client-key={p / 'apiserver-kubelet-client.key'}",
                "--kubelet-preferred-address-types=InternalIP",
                "--allow-privileged=true", "--profiling=false", "--event-ttl=30m", "--v=1",
            ],
            env={"GOMAXPROCS": "2"},
        )  # fmt: skip
        wait_for(lambda: self._get("/readyz")[0] == 200, "kube-apiserver /readyz", 60)
        common = ["--leader-elect=false", "--secure-port=0", "--kube-api-qps=200", "--kube-api-burst=400", "--v=1"]
        self.spawn(
            "kubernetes-controller-manager",
            [
                str(b / "kube-controller-manager"), f"--kubeconfig={self.dir / 'controller-manager.kubeconfig'}",
                "--use-service-account-credentials=true", f"--service-account-private-key-file={p / 'sa.key'}",
                f"--root-ca-file={p / 'ca.crt'}", "--cluster-name=nova-sandbox",
                "--concurrent-deployment-syncs=10", "--concurrent-replicaset-syncs=10",
                "--concurrent-gc-syncs=10", *common,
            ],
            env={"GOMAXPROCS": "2"},
        )  # fmt: skip
        self.spawn(
            "kubernetes-scheduler",
            [str(b / "kube-scheduler"), f"--kubeconfig={self.dir / 'scheduler.kubeconfig'}", *common],
            env={"GOMAXPROCS": "2"},
        )
        self._spawn_kwok()
        wait_for(self._default_sa_ready, "controller-manager (default service account)", 60)
        ensure_nodes()
        ensure_gates_identity()
        reset_release(wait=True)

    def _spawn_kwok(self) -> None:
        b, p = self.bin, self.pki
        self.spawn(
            "kubernetes-kwok",
            [
                str(b / "kwok"), f"--kubeconfig={self.dir / 'kwok.kubeconfig'}", f"--config={self.dir / 'kwok.yaml'}",
                "--manage-all-nodes=false", "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                f"--node-ip={ports.HOST}", f"--node-port={ports.KWOK_KUBELET}",
                f"--server-address={ports.HOST}:{ports.KWOK_KUBELET}",
                f"--tls-cert-file={p / 'kubelet.crt'}", f"--tls-private-key-file={p / 'kubelet.key'}",
                "--cidr=10.244.0.0/16", "--node-lease-duration-seconds=40",
            ],
            env={"GOMAXPROCS": "2"},
        )  # fmt: skip

    def restart_kwok(self) -> None:
        """Reload kwok's stages (e.g. a new fault stage) without touching the control plane."""
        services, *_ = _release()
        kwok_config(self.dir / "kwok.yaml", _log_dir(), [s for s, _, _ in services])
        self.stop_process("kubernetes-kwok", timeout=30)
        self._spawn_kwok()

        def nodes_ready() -> bool:
            nodes = _core().list_node(_request_timeout=10).items
            return len(nodes) >= len(NODES) and all(
                any(c.type == "Ready" and c.status == "True" for c in (n.status.conditions or [])) for n in nodes
            )

        wait_for(nodes_ready, "kwok nodes Ready again", 90)

    def _default_sa_ready(self) -> bool:
        import json

        code, _ = self._get("/api/v1/namespaces/default/serviceaccounts/default")
        if code != 200:
            return False
        code, text = self._get("/api/v1/nodes")
        return code == 200 and isinstance(json.loads(text), dict)

    def health(self) -> Health:
        code, text = self._get("/readyz")
        if code != 200:
            return Health(False, API_URL, self.pids(), f"/readyz: {code or text[:120]}")
        try:
            pods = _core().list_namespaced_pod(NAMESPACE, _request_timeout=10).items
        except Exception as exc:
            return Health(False, API_URL, self.pids(), f"listing pods: {str(exc)[:160]}")
        ready = [p for p in pods if any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or []))]
        ok = bool(pods) and len(ready) == len(pods) and len(self.pids()) == 5
        detail = f"{len(ready)}/{len(pods)} pods ready in {NAMESPACE}"
        if not gates_kubeconfig_path().is_file():
            ok, detail = False, f"{detail}; the gates' kubeconfig {GATES_KUBECONFIG} is missing (start again)"
        return Health(ok, API_URL, self.pids(), detail)

    def reset(self) -> None:
        super().reset()

    # -- faults -----------------------------------------------------------------------------
    def faults(self) -> list[Fault]:
        return _faults()

    def snapshot(self) -> dict[str, Any]:
        """The release's objects as declared: Deployments' specs, Services' ports and selectors,
        nodes' allocatable resources, pods by (app, version, ready, fault label), the pod log
        files. Left out: names the API generates (pods, ReplicaSets), uids, resourceVersions,
        status times, cluster IPs and the Deployments' revision annotations."""
        import hashlib

        clean = _api().sanitize_for_serialization  # type: ignore[attr-defined]
        deployments = {
            d.metadata.name: clean(d.spec)
            for d in _apps().list_namespaced_deployment(NAMESPACE, _request_timeout=15).items
        }
        services = {
            s.metadata.name: (clean(s.spec.ports), s.spec.selector)
            for s in _core().list_namespaced_service(NAMESPACE, _request_timeout=15).items
        }
        nodes = {n.metadata.name: n.status.allocatable for n in _core().list_node(_request_timeout=15).items}
        pods = sorted(
            (
                (p.metadata.labels or {}).get("app", ""),
                (p.metadata.labels or {}).get("version", ""),
                any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or [])),
                (p.metadata.labels or {}).get(FAULT_LABEL, ""),
            )
            for p in _core().list_namespaced_pod(NAMESPACE, _request_timeout=15).items
            if p.metadata.deletion_timestamp is None
        )
        logs = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(_log_dir().glob("*.log"))}
        return {
            **super().snapshot(),
            "deployments": deployments,
            "services": services,
            "nodes": nodes,
            "pods": pods,
            "pod_logs": logs,
        }


def _first_pod(selector: str):
    pods = [
        p
        for p in _core().list_namespaced_pod(NAMESPACE, label_selector=selector, _request_timeout=15).items
        if p.metadata.deletion_timestamp is None
    ]
    if not pods:
        raise SandboxError(f"kubernetes: no pod matches {selector}")
    return sorted(pods, key=lambda p: p.metadata.name)[0]


def _label_pod(selector: str, fault: str, wait_for_ready: str) -> None:
    pod = _first_pod(selector)
    _core().patch_namespaced_pod(
        pod.metadata.name, NAMESPACE, {"metadata": {"labels": {FAULT_LABEL: fault}}}, _request_timeout=15
    )

    def applied() -> bool:
        p = _core().read_namespaced_pod(pod.metadata.name, NAMESPACE, _request_timeout=10)
        return any(c.type == "Ready" and c.status == "False" for c in (p.status.conditions or []))

    wait_for(applied, f"kwok stage {fault} on {pod.metadata.name}", 30)


def _heal_pods(versions: dict[str, int]) -> None:
    _clear_pod_faults()
    wait_release(_want(versions))


def _patch_template(name: str, patch: list[dict]) -> None:
    _apps().patch_namespaced_deployment(name, NAMESPACE, patch, _request_timeout=15)


def _faults() -> list[Fault]:
    _, _, base, new = _release()
    canary_state = {base: 3, new: 1}
    victim = "auth-service"

    def canary_crashloop() -> None:
        _label_pod(f"app={victim},version={new}", "crashloop", "")

    init_victim = "search-service"

    def canary_init_crashloop() -> None:
        """The canary's template gains an init container that crash-loops (Init:CrashLoopBackOff)."""
        name = f"{init_victim}-{new}"
        _apps().patch_namespaced_deployment(
            name,
            NAMESPACE,
            {"spec": {"template": {
                "metadata": {"labels": {FAULT_LABEL: "init-crashloop"}},
                "spec": {"initContainers": [{
                    "name": "wait-for-migrations",
                    "image": f"127.0.0.1:55000/nova-{init_victim}:{new}",
                    "command": ["/usr/local/bin/wait-for-migrations", "--timeout=30s"],
                }]},
            }}},
            _request_timeout=15,
        )  # fmt: skip

        def looping() -> bool:
            pods = (
                _core()
                .list_namespaced_pod(
                    NAMESPACE, label_selector=f"app={init_victim},{FAULT_LABEL}=init-crashloop", _request_timeout=10
                )
                .items
            )
            return any(
                (s.state.waiting.reason if s.state and s.state.waiting else None) == "CrashLoopBackOff"
                for p in pods
                for s in (p.status.init_container_statuses or [])
            )

        wait_for(looping, f"an {init_victim} canary pod in Init:CrashLoopBackOff", 60)

    def canary_init_healed() -> None:
        services, required_env, *_ = _release()
        port, pool = next((p, pl) for s, p, pl in services if s == init_victim)
        _apply_deployment(deployment_body(init_victim, port, pool, new, 1, required_env))
        wait_release(_want(canary_state))

    def canary_not_ready() -> None:
        _label_pod(f"app=user-service,version={new}", "not-ready", "")

    def missing_env() -> None:
        services, required_env, *_ = _release()
        pool = next(pl for s, _, pl in services if s == "media-service")
        env = deployment_body("media-service", 0, pool, base, 3, required_env)["spec"]["template"]["spec"][
            "containers"
        ][0]["env"]
        env = [e for e in env if e["name"] != "KAFKA_BROKERS"]  # one missing
        env = [dict(e, value="") if e["name"] == "JWT_ISSUER" else e for e in env]  # one present but empty
        _patch_template(
            f"media-service-{base}", [{"op": "replace", "path": "/spec/template/spec/containers/0/env", "value": env}]
        )
        wait_release(_want({base: 3}))

    def no_readiness_probe() -> None:
        _patch_template(
            f"search-service-{base}",
            [{"op": "remove", "path": "/spec/template/spec/containers/0/readinessProbe"}],
        )
        wait_release(_want({base: 3}))

    def rollout_stuck() -> None:
        _patch_template(
            f"feed-service-{new}",
            [
                {"op": "add", "path": "/spec/template/metadata/labels/nova.sandbox~1fault", "value": "not-ready"},
            ],
        )
        wait_for(_rollout_half_way, "a feed-service rollout stuck half way", 30)

    def rollout_unstuck() -> None:
        services, required_env, *_ = _release()
        port, pool = next((p, pl) for s, p, pl in services if s == "feed-service")
        _apply_deployment(deployment_body("feed-service", port, pool, new, 3, required_env))
        wait_release(_want({new: 3}))

    def old_left_behind() -> None:
        services, required_env, *_ = _release()
        port, pool = next((p, pl) for s, p, pl in services if s == "notification-service")
        _apply_deployment(deployment_body("notification-service", port, pool, base, 1, required_env))
        wait_release(_want({new: 3}) | {f"notification-service-{base}": 1})

    def old_removed() -> None:
        _delete_deployment(f"notification-service-{base}")
        wait_release(_want({new: 3}))

    def mixed_images() -> None:
        _apps().patch_namespaced_deployment(
            f"cdn-service-{base}",
            NAMESPACE,
            {"spec": {"template": {"spec": {"containers": [
                {"name": "cdn-service", "image": f"127.0.0.1:55000/nova-cdn-service:{new}"}]}}}},
            _request_timeout=15,
        )  # fmt: skip
        wait_release(_want({base: 3, new: 0}))

    def rollback_incomplete() -> None:
        _scale(f"events-service-{new}", 1)
        _scale(f"events-service-{base}", 2)
        wait_release(_want({base: 3, new: 0}) | {f"events-service-{new}": 1, f"events-service-{base}": 2})

    def restore_rolled_back() -> None:
        reset_specs(base, 3)
        rollback()

    def scale_short() -> None:
        _scale(f"streaming-service-{new}", 2)
        wait_release(_want({base: 3, new: 3}) | {f"streaming-service-{new}": 2})

    def scale_restored() -> None:
        scale_half()

    def canary_twice() -> None:
        _scale(f"content-service-{new}", 2)
        wait_release(_want(canary_state) | {f"content-service-{new}": 2})

    def canary_once() -> None:
        _scale(f"content-service-{new}", 1)
        wait_release(_want(canary_state))

    def heal_base() -> None:
        reset_specs(base, 3)
        wait_release(_want({base: 3}))

    def shrink() -> None:
        set_node_allocatable(NODE_SHRUNK)

    def unshrink() -> None:
        set_node_allocatable(NODE_ALLOCATABLE)

    def error_logs() -> None:
        _write_pod_logs(errors=True, service="messaging-service")

    def clean_logs() -> None:
        _write_pod_logs(errors=False)

    f = Fault
    c = "kubernetes"
    return [
        f("kube-canary-init-crashloop",
          f"the {init_victim} canary's init container crash-loops (Init:CrashLoopBackOff, pod Pending)",
          ("CAN-8", "CAN-2"), canary_init_crashloop, canary_init_healed, c, stage=Stage.CANARY),
        f("kube-canary-crashloop", f"the {victim} canary container crash-loops (restarts, CrashLoopBackOff)",
          ("CAN-8", "CAN-2"), canary_crashloop, lambda: _heal_pods(canary_state), c, stage=Stage.CANARY),
        f("kube-canary-never-ready", "the user-service canary pod runs but its readiness probe fails",
          ("CAN-2",), canary_not_ready, lambda: _heal_pods(canary_state), c, stage=Stage.CANARY),
        f("kube-canary-replicas", "content-service's canary deployment runs 2 pods instead of 1",
          ("CAN-1",), canary_twice, canary_once, c, stage=Stage.CANARY),
        f("kube-canary-error-logs", "the messaging-service canary logs ERROR lines and a panic",
          ("CAN-9",), error_logs, clean_logs, c, expect="WARN", stage=Stage.CANARY),
        f("kube-missing-env", "media-service's deployment lacks KAFKA_BROKERS and has an empty JWT_ISSUER",
          ("PRE-CFG-1",), missing_env, heal_base, c),
        f("kube-no-readiness-probe", "search-service's deployment has no readiness probe",
          ("PRE-INF-7",), no_readiness_probe, heal_base, c),
        f("kube-capacity-too-small", "nodes shrunk to 4 CPU / 12Gi: no room for another set of replicas",
          ("PRE-INF-1",), shrink, unshrink, c),
        f("kube-scale-short", "streaming-service's new version scaled to 2 of 3 (not 50/50)",
          ("SCL-1",), scale_short, scale_restored, c, stage=Stage.SCALED),
        f("kube-rollout-stuck", "feed-service's rollout stuck half way (a new pod never becomes ready)",
          ("ROL-1",), rollout_stuck, rollout_unstuck, c, stage=Stage.ROLLED_OUT),
        f("kube-old-left-behind", "notification-service's old deployment left running after the drain",
          ("ROL-3", "ROL-2"), old_left_behind, old_removed, c, stage=Stage.ROLLED_OUT),
        f("kube-mixed-images", "after the rollback cdn-service's old deployment runs the new image",
          ("RBK-4",), mixed_images, restore_rolled_back, c, stage=Stage.ROLLED_BACK),
        f("kube-rollback-incomplete", "events-service: new version still at 1, old version at 2 of 3",
          ("RBK-1", "RBK-2", "RBK-4"), rollback_incomplete, restore_rolled_back, c, stage=Stage.ROLLED_BACK),
    ]  # fmt: skip


def reset_specs(version: str, replicas: int) -> None:
    """Re-apply the declared spec of every deployment of ``version`` that exists."""
    services, required, *_ = _release()
    deps = _deployments()
    for service, port, pool in services:
        if f"{service}-{version}" in deps:
            _apply_deployment(deployment_body(service, port, pool, version, replicas, required))


def _rollout_half_way() -> bool:
    d = _apps().read_namespaced_deployment("feed-service-v1.0.0", NAMESPACE, _request_timeout=10)
    return (d.status.observed_generation or 0) >= d.metadata.generation and (d.status.updated_replicas or 0) >= 1


if __name__ == "__main__":
    print(f"built in {build_all():.0f}s into {bin_dir()}")
