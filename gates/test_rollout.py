"""Phases 4-9 on the cluster: canary pods, the 50/50 split, the full rollout, the rollback.

Each check reads the cluster as it is at that release step (kubectl get/rollout status/logs).
"""

from __future__ import annotations

import pytest

from nova_gate.backends.kubernetes import rules as k8s

LOG_SOURCE = "pod log API"


def _pods(kube, env, selector):
    return list(kube.pods(env.release.namespace, selector))


def _canary(kube, env, service):
    return _pods(kube, env, f"app={service},version={env.release.version}")


def _deployments(kube, env, service):
    return kube.deployments(env.release.namespace, f"app={service}")


@pytest.mark.item("CAN-1")
def test_one_canary_pod(service, kube, env, gate):
    pods = _canary(kube, env, service)
    gate.evidence(source="kubernetes", selector=f"app={service},version={env.release.version}")
    gate.judge(k8s.canary_count(service, pods, env.release.version))


@pytest.mark.item("CAN-2")
def test_canary_pods_running_and_ready(service, kube, env, gate):
    gate.judge(k8s.canary_ready(service, _canary(kube, env, service)))


@pytest.mark.item("CAN-8")
def test_canary_not_crash_looping(service, kube, env, gate):
    gate.judge(k8s.canary_not_crashing(service, _canary(kube, env, service)))


@pytest.mark.item("CAN-9")
def test_canary_log_errors(service, kube, env, gate):
    pods = [p for p in _canary(kube, env, service) if not p.deleting]
    logs = {p.name: kube.pod_log(env.release.namespace, p.name, service) for p in pods}
    gate.evidence(source="kubernetes pods/log (kubelet containerLogs via the API server)", pods=list(logs))
    gate.judge(k8s.canary_log_errors(service, logs, LOG_SOURCE))


@pytest.mark.item("SCL-1")
def test_new_version_at_half(service, kube, env, gate):
    gate.judge(
        k8s.split_50_50(service, _deployments(kube, env, service), env.release.version, env.release.baseline_version)
    )


@pytest.mark.item("ROL-1")
def test_rollout_status(service, kube, env, gate):
    gate.judge(k8s.rolled_out(service, _deployments(kube, env, service)))


@pytest.mark.item("ROL-2")
def test_all_pods_on_release_image(service, kube, env, gate):
    gate.judge(k8s.single_version(service, _pods(kube, env, f"app={service}"), env.release.version))


@pytest.mark.item("ROL-3")
def test_old_deployment_deleted(service, kube, env, gate):
    gate.judge(k8s.no_version_left(service, _deployments(kube, env, service), env.release.baseline_version))


@pytest.mark.item("RBK-1")
def test_new_version_scaled_to_zero(service, kube, env, gate):
    gate.judge(k8s.scaled_to_zero(service, _deployments(kube, env, service), env.release.version))


@pytest.mark.item("RBK-2")
def test_old_version_back_at_full(service, kube, env, gate):
    replicas = env.release.service(service).replicas
    gate.judge(k8s.back_at_full(service, _deployments(kube, env, service), env.release.baseline_version, replicas))


@pytest.mark.item("RBK-4")
def test_single_image_version_after_rollback(service, kube, env, gate):
    gate.judge(k8s.single_version(service, _pods(kube, env, f"app={service}"), env.release.baseline_version))
