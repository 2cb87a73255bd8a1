"""Preflight checks on the cluster: required env vars, capacity headroom, probes and endpoints."""

from __future__ import annotations

import pytest

from nova_gate.backends.kubernetes import rules as k8s
from nova_gate.backends.kubernetes.facts import EndpointFacts
from nova_gate.shared import group_by, memo
from nova_gate.sources.release_repo import ReleaseRepo

#: every labelled deployment of the namespace in one paginated list, shared by all services' tests
SELECTOR = "app"


def _deployments(kube, env, service):
    ns = env.release.namespace
    by_app = memo(kube).get(
        ("deployments", ns, SELECTOR), lambda: group_by(kube.deployments(ns, SELECTOR), lambda d: d.labels.get("app"))
    )
    return by_app.get(service, [])


@pytest.mark.item("PRE-CFG-1")
def test_required_env_vars(service, kube, env, gate):
    deployments = _deployments(kube, env, service)
    gate.evidence(
        source="kubernetes", selector=f"{SELECTOR} (shared), app={service}", deployments=[d.name for d in deployments]
    )
    gate.judge(k8s.required_env(service, deployments, env.expectations.required_env))


@pytest.mark.item("PRE-INF-1")
def test_cluster_capacity_headroom(kube, env, gate):
    nodes = kube.nodes()
    usable = {n.name for n in nodes if n.ready and not n.unschedulable}
    # every pod of the cluster, streamed page by page; only sums are kept
    usage = k8s.Usage().add(kube.pods(None, field="status.phase!=Succeeded,status.phase!=Failed"), usable)
    deployments = kube.deployments(env.release.namespace, f"version={env.release.baseline_version}")
    # the new version's requests: its canary deployment when there is one, else the release's manifests
    new_version = kube.deployments(env.release.namespace, f"version={env.release.version}")
    new_from = "canary deployment" if new_version else None
    if not new_version and env.release.manifests_dir is not None:
        new_version = ReleaseRepo(env.release.repo_dir).deployment_manifests(env.release.manifests_dir)
        new_from = f"manifests in {env.release.manifests_dir}" if new_version else None
    extra_cpu, extra_mem = k8s.extra_set(deployments, env.service_names, new_version)
    gate.evidence(
        source="kubernetes",
        nodes=len(nodes),
        pods_counted=usage.pods,
        list_pages=kube.pages,
        extra_set={"cpu_m": extra_cpu, "memory_b": extra_mem},
        new_version_requests_from=new_from or "not found: assumed equal to the running version's",
        per_service=k8s.extra_set_detail(deployments, env.service_names, new_version),
    )
    gate.judge(k8s.capacity_headroom(nodes, usage, extra_cpu, extra_mem))


@pytest.mark.item("PRE-INF-7")
def test_readiness_probe_and_endpoints(service, kube, env, gate):
    ns = env.release.namespace
    deployments = _deployments(kube, env, service)
    # one list of the namespace's Services and one of its EndpointSlices, shared by every service's test
    exists = service in memo(kube).get(("services", ns), lambda: kube.service_names(ns))
    endpoints = None  # a missing Service's leftover slices (being garbage-collected) are no endpoints
    if exists:
        by_service = memo(kube).get(("endpointslices", ns), lambda: kube.endpoints_by_service(ns))
        endpoints = by_service.get(service, EndpointFacts(service, 0, 0))  # no slice at all: no endpoint
    gate.evidence(
        source="kubernetes",
        request=f"list services {ns}; list endpointslices {ns} (shared)",
        deployments=[d.name for d in deployments],
        service_exists=exists,
    )
    gate.judge(k8s.readiness_and_endpoints(service, deployments, exists, endpoints))
