"""The release on the sandbox cluster: Deployments ``<service>-<version>`` and Services ``<service>``,
the release engineer's steps (canary, scale to half, roll out, drain the old version, roll back),
the fake nodes and the container logs kwok serves."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from nova_gate.sandbox import kube_client
from nova_gate.sandbox.base import SandboxError, state_dir
from nova_gate.sandbox.kube_client import NAMESPACE
from nova_gate.sandbox.kube_kwok import FAULT_LABEL


def release_spec() -> tuple[list[tuple[str, int, int]], list[str], str, str]:
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


def apply_deployment(body: dict) -> None:
    from kubernetes.client.exceptions import ApiException

    apps = kube_client.apps()
    try:
        apps.create_namespaced_deployment(NAMESPACE, body, _request_timeout=15)
    except ApiException as exc:
        if kube_client.status_code(exc) != 409:
            raise
        apps.replace_namespaced_deployment(body["metadata"]["name"], NAMESPACE, body, _request_timeout=15)


def apply_declared(service: str, version: str, replicas: int) -> None:
    """Apply ``service``'s Deployment of ``version`` as declared, at ``replicas``."""
    services, required, *_ = release_spec()
    port, pool = next((p, pl) for s, p, pl in services if s == service)
    apply_deployment(deployment_body(service, port, pool, version, replicas, required))


def scale(name: str, replicas: int) -> None:
    kube_client.apps().patch_namespaced_deployment_scale(
        name, NAMESPACE, {"spec": {"replicas": replicas}}, _request_timeout=15
    )


def delete_deployment(name: str) -> None:
    from kubernetes.client.exceptions import ApiException

    try:
        kube_client.apps().delete_namespaced_deployment(
            name, NAMESPACE, propagation_policy="Background", _request_timeout=15
        )
    except ApiException as exc:
        if kube_client.status_code(exc) != 404:
            raise


def deployments() -> dict[str, Any]:
    items = kube_client.apps().list_namespaced_deployment(NAMESPACE, _request_timeout=15).items
    return {d.metadata.name: d for d in items}


def wait_release(want: dict[str, int], timeout: float = 120) -> None:
    """Wait until exactly the deployments in ``want`` exist, each rolled out to its replicas,
    and the namespace holds exactly that many pods, every one Ready."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            deps = deployments()
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
            pods = kube_client.core().list_namespaced_pod(NAMESPACE, _request_timeout=15).items
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


def want_replicas(versions: dict[str, int]) -> dict[str, int]:
    services, *_ = release_spec()
    return {f"{s}-{v}": n for v, n in versions.items() for s, _, _ in services}


def _put_version(version: str, replicas: int) -> None:
    services, required, *_ = release_spec()
    for service, port, pool in services:
        apply_deployment(deployment_body(service, port, pool, version, replicas, required))


def reset_release(wait: bool = True) -> None:
    """Back to the start state: only v0.9.0 (3 replicas each, spec as declared), Services present."""
    from kubernetes.client.exceptions import ApiException

    services, _, baseline, _ = release_spec()
    core = kube_client.core()
    try:
        core.create_namespace({"metadata": {"name": NAMESPACE}}, _request_timeout=15)
    except ApiException as exc:
        if kube_client.status_code(exc) != 409:
            raise
    for service, port, _ in services:
        try:
            core.create_namespaced_service(NAMESPACE, service_body(service, port), _request_timeout=15)
        except ApiException as exc:
            if kube_client.status_code(exc) != 409:
                raise
    for name in deployments():
        if not name.endswith(f"-{baseline}"):
            delete_deployment(name)
    _put_version(baseline, 3)
    clear_pod_faults()
    write_pod_logs(errors=False)
    if wait:
        wait_release(want_replicas({baseline: 3}))


def canary(wait: bool = True) -> None:
    """kubectl apply the new version's Deployments with 1 replica each (version label VERSION)."""
    _, _, baseline, new = release_spec()
    _put_version(new, 1)
    if wait:
        wait_release(want_replicas({baseline: 3, new: 1}))


def scale_half(wait: bool = True) -> None:
    """kubectl scale the new version to the old version's 3 replicas: a 50/50 split."""
    services, _, baseline, new = release_spec()
    for service, _, _ in services:
        scale(f"{service}-{new}", 3)
    if wait:
        wait_release(want_replicas({baseline: 3, new: 3}))


def rollout(wait: bool = True) -> None:
    """The new version at 3/3 ready everywhere (kubectl rollout status)."""
    services, _, baseline, new = release_spec()
    deps = deployments()
    for service, _, _ in services:
        if f"{service}-{new}" not in deps:
            canary(wait=False)
            break
    for service, _, _ in services:
        scale(f"{service}-{new}", 3)
    if wait:
        present = {n for n in deployments() if n.endswith(f"-{baseline}")}
        want = want_replicas({new: 3}) | {n: 3 for n in present}
        wait_release(want)


def drain_old(wait: bool = True) -> None:
    """kubectl delete the old version's Deployments."""
    services, _, baseline, new = release_spec()
    for service, _, _ in services:
        delete_deployment(f"{service}-{baseline}")
    if wait:
        wait_release(want_replicas({new: 3}))


def rollback(wait: bool = True) -> None:
    """New version scaled to 0, old version back to 3 (re-created when it was deleted)."""
    services, required, baseline, new = release_spec()
    deps = deployments()
    for service, port, pool in services:
        if f"{service}-{baseline}" not in deps:
            apply_deployment(deployment_body(service, port, pool, baseline, 3, required))
        else:
            scale(f"{service}-{baseline}", 3)
    for service, _, _ in services:
        if f"{service}-{new}" in deps:
            scale(f"{service}-{new}", 0)
    if wait:
        wait_release(want_replicas({baseline: 3, new: 0}))


def reset_specs(version: str, replicas: int) -> None:
    """Re-apply the declared spec of every deployment of ``version`` that exists."""
    services, required, *_ = release_spec()
    deps = deployments()
    for service, port, pool in services:
        if f"{service}-{version}" in deps:
            apply_deployment(deployment_body(service, port, pool, version, replicas, required))


def clear_pod_faults() -> None:
    """Delete pods carrying a sandbox fault label (their ReplicaSets make healthy ones)."""
    core = kube_client.core()
    for pod in core.list_namespaced_pod(NAMESPACE, label_selector=FAULT_LABEL, _request_timeout=15).items:
        core.delete_namespaced_pod(pod.metadata.name, NAMESPACE, grace_period_seconds=0, _request_timeout=15)


def log_dir() -> Path:
    return state_dir() / "kube" / "podlogs"


def write_pod_logs(errors: bool, service: str | None = None) -> None:
    """The container log files kwok serves through the kubelet API (CRI log format)."""
    services, *_ = release_spec()
    d = log_dir()
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
    core = kube_client.core()
    for name in NODES:
        core.patch_node_status(
            name, {"status": {"allocatable": dict(resources), "capacity": dict(resources)}}, _request_timeout=15
        )


def ensure_nodes() -> None:
    from kubernetes.client.exceptions import ApiException

    core = kube_client.core()
    for name in NODES:
        try:
            core.create_node(node_body(name), _request_timeout=15)
        except ApiException as exc:
            if kube_client.status_code(exc) != 409:
                raise
        core.patch_node(name, {"spec": {"unschedulable": None}}, _request_timeout=15)
    set_node_allocatable(NODE_ALLOCATABLE)
