"""Kubernetes rules on hand-made facts: quantities, env, capacity, canary, split, rollout, rollback."""

from __future__ import annotations

import pytest

from nova_gate.backends.kubernetes import facts as k8s_facts
from nova_gate.backends.kubernetes import rules as k8s
from nova_gate.verdict import Label

REQUIRED = ["DATABASE_URL", "RUST_LOG", "DB_POOL_SIZE"]


def container(env=None, probe=True, name="auth-service", cpu=250, mem=256 * 2**20):
    env = {"DATABASE_URL": "postgres://x", "RUST_LOG": "info", "DB_POOL_SIZE": "10"} if env is None else env
    return k8s_facts.ContainerSpec(name, f"r/nova-{name}:v1.0.0", env, probe, True, cpu, mem)


def dep(version="v1.0.0", replicas=3, ready=None, updated=None, gen=2, observed=2, c=None, service="auth-service"):
    ready = replicas if ready is None else ready
    return k8s_facts.DeploymentFacts(
        name=f"{service}-{version}",
        labels={"app": service, "version": version},
        replicas=replicas,
        generation=gen,
        observed_generation=observed,
        status_replicas=max(replicas, ready),
        updated=replicas if updated is None else updated,
        ready=ready,
        available=ready,
        containers=(c or container(name=service),),
    )


def pod(name="p1", tag="v1.0.0", ready=True, restarts=0, waiting=None, phase="Running", node="n1", deleting=False):
    state = k8s_facts.ContainerState("auth-service", f"r/x:{tag}", ready, restarts, waiting, None)
    return k8s_facts.PodFacts(
        name, "nova-backend", {"app": "auth-service", "version": tag}, phase, node, ready, deleting,
        (f"127.0.0.1:55000/nova-auth-service:{tag}",), (state,), 250, 256 * 2**20,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "cpu_m"), [("250m", 250), ("1", 1000), ("1.5", 1500), ("16", 16000), (None, 0), ("0.1", 100)]
)
def test_cpu_quantities(text, cpu_m):
    assert k8s_facts.parse_cpu_m(text) == cpu_m


@pytest.mark.parametrize(("text", "b"), [("64Gi", 64 * 2**30), ("256Mi", 256 * 2**20), ("1G", 10**9), ("1e3", 1000)])
def test_memory_quantities(text, b):
    assert k8s_facts.parse_memory_b(text) == b


def test_bad_quantity_raises():
    with pytest.raises(ValueError):
        k8s_facts.parse_cpu_m("lots")


def test_image_tag():
    assert k8s.image_tag("127.0.0.1:55000/nova-auth-service:v1.0.0") == "v1.0.0"
    assert k8s.image_tag("127.0.0.1:55000/nova-auth-service") == ""
    assert k8s.image_tag("r/x@sha256:abc") == "sha256:abc"


def test_required_env():
    assert k8s.required_env("auth-service", [dep()], REQUIRED).label is Label.PASS
    missing = dep(c=container(env={"DATABASE_URL": "x", "RUST_LOG": ""}))
    v = k8s.required_env("auth-service", [missing], REQUIRED)
    assert v.label is Label.FAIL and "DB_POOL_SIZE" in v.reason and "empty RUST_LOG" in v.reason
    assert k8s.required_env("auth-service", [], REQUIRED).label is Label.FAIL
    ref = dep(c=container(env={"DATABASE_URL": None, "RUST_LOG": "info", "DB_POOL_SIZE": "1"}))
    assert k8s.required_env("auth-service", [ref], REQUIRED).label is Label.PASS


def test_capacity():
    nodes = [
        k8s_facts.NodeFacts("n1", True, False, 16000, 64 * 2**30),
        k8s_facts.NodeFacts("n2", False, False, 16000, 64 * 2**30),
    ]
    usage = k8s.Usage().add([pod(), pod("p2", deleting=True), pod("p3", node="n2")], {"n1"})
    assert usage.pods == 1 and usage.cpu_m == 250
    assert k8s.capacity_headroom(nodes, usage, 8000, 2**30).label is Label.PASS
    v = k8s.capacity_headroom(nodes, usage, 16000, 2**30)
    assert v.label is Label.FAIL and "cpu free 15.75 < needed 16" in v.reason
    assert k8s.capacity_headroom(nodes[1:], usage, 1, 1).label is Label.FAIL
    assert k8s.extra_set([dep(replicas=3)], ["auth-service"]) == (750, 3 * 256 * 2**20)


def test_readiness_and_endpoints():
    ok = k8s.readiness_and_endpoints("auth-service", [dep()], True, k8s_facts.EndpointFacts("auth-service", 3, 0))
    assert ok.label is Label.PASS
    no_probe = dep(c=container(probe=False))
    assert (
        k8s.readiness_and_endpoints("auth-service", [no_probe], True, k8s_facts.EndpointFacts("a", 3, 0)).label
        is Label.FAIL
    )
    assert (
        k8s.readiness_and_endpoints("auth-service", [dep()], True, k8s_facts.EndpointFacts("a", 0, 3)).label
        is Label.FAIL
    )
    assert k8s.readiness_and_endpoints("auth-service", [dep()], False, None).label is Label.FAIL


def test_canary():
    assert k8s.canary_count("a", [pod()], "v1.0.0").label is Label.PASS
    assert k8s.canary_count("a", [pod(), pod("p2")], "v1.0.0").label is Label.FAIL
    assert k8s.canary_count("a", [pod(), pod("p2", deleting=True)], "v1.0.0").label is Label.PASS
    assert k8s.canary_count("a", [], "v1.0.0").label is Label.FAIL
    assert k8s.canary_ready("a", [pod()]).label is Label.PASS
    assert k8s.canary_ready("a", [pod(ready=False)]).label is Label.FAIL
    assert k8s.canary_ready("a", [pod(phase="Pending", ready=False)]).label is Label.FAIL
    assert k8s.canary_not_crashing("a", [pod()]).label is Label.PASS
    assert k8s.canary_not_crashing("a", [pod(restarts=2)]).label is Label.FAIL
    crash = k8s.canary_not_crashing("a", [pod(waiting="CrashLoopBackOff", ready=False)])
    assert crash.label is Label.FAIL and "CrashLoopBackOff" in crash.reason
    assert k8s.canary_not_crashing("a", []).label is Label.INCONCLUSIVE


def test_canary_logs():
    clean = 'ts stdout F {"level":"INFO","msg":"ok"}\nts stdout F {"level":"WARN","msg":"slow"}'
    bad = clean + '\nts stderr F {"level":"ERROR","msg":"db"}\nts stderr F thread panicked at src/main.rs:1'
    assert k8s.canary_log_errors("a", {"p": clean}, "pod log API").label is Label.PASS
    v = k8s.canary_log_errors("a", {"p": bad}, "pod log API")
    assert v.label is Label.FAIL and v.observed["error_lines"] == 2
    assert v.with_severity("warn").label is Label.WARN
    assert k8s.canary_log_errors("a", {}, "pod log API").label is Label.INCONCLUSIVE


def test_split_rollout_rollback():
    old, new = dep("v0.9.0"), dep("v1.0.0")
    assert k8s.split_50_50("a", [old, new], "v1.0.0", "v0.9.0").label is Label.PASS
    assert k8s.split_50_50("a", [old, dep("v1.0.0", replicas=2)], "v1.0.0", "v0.9.0").label is Label.FAIL
    assert k8s.split_50_50("a", [old, dep("v1.0.0", ready=2)], "v1.0.0", "v0.9.0").label is Label.FAIL
    assert k8s.rolled_out("a", [new]).label is Label.PASS
    assert k8s.rolled_out("a", [dep(updated=1)]).label is Label.FAIL
    assert k8s.rolled_out("a", [dep(observed=1)]).label is Label.FAIL
    assert k8s.rolled_out("a", []).label is Label.FAIL
    assert k8s.no_version_left("a", [new], "v0.9.0").label is Label.PASS
    assert k8s.no_version_left("a", [new, old], "v0.9.0").label is Label.FAIL
    assert k8s.single_version("a", [pod(), pod("p2")], "v1.0.0").label is Label.PASS
    mixed = k8s.single_version("a", [pod(), pod("p2", tag="v0.9.0")], "v1.0.0")
    assert mixed.label is Label.FAIL and "v0.9.0" in mixed.reason
    assert k8s.scaled_to_zero("a", [old, dep("v1.0.0", replicas=0, ready=0)], "v1.0.0").label is Label.PASS
    assert k8s.scaled_to_zero("a", [old], "v1.0.0").label is Label.PASS
    assert k8s.scaled_to_zero("a", [dep("v1.0.0", replicas=1)], "v1.0.0").label is Label.FAIL
    assert k8s.back_at_full("a", [old], "v0.9.0", 3).label is Label.PASS
    assert k8s.back_at_full("a", [dep("v0.9.0", replicas=2)], "v0.9.0", 3).label is Label.FAIL
    assert k8s.back_at_full("a", [], "v0.9.0", 3).label is Label.FAIL


def test_facts_from_raw_json():
    raw = {
        "metadata": {"name": "a-v1", "labels": {"app": "a", "version": "v1"}, "generation": 3},
        "spec": {
            "replicas": 3,
            "template": {"spec": {"containers": [{
                "name": "a", "image": "r/a:v1",
                "env": [{"name": "X", "value": "1"}, {"name": "S", "valueFrom": {"secretKeyRef": {}}}],
                "readinessProbe": {"httpGet": {"path": "/r"}},
                "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}},
            }]}},
        },
        "status": {"observedGeneration": 3, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 2},
    }  # fmt: skip
    d = k8s_facts.deployment_facts(raw)
    assert d.version == "v1" and d.ready == 2 and d.available == 0
    c = d.main_container("a")
    assert c is not None and c.env == {"X": "1", "S": None} and c.readiness_probe and c.cpu_request_m == 250
    p = k8s_facts.pod_facts(
        {
            "metadata": {"name": "p", "namespace": "n", "deletionTimestamp": "2026-01-01T00:00:00Z"},
            "spec": raw["spec"]["template"]["spec"] | {"nodeName": "n1"},
            "status": {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "False"}],
                "containerStatuses": [
                    {"name": "a", "image": "r/a:v1", "ready": False, "restartCount": 4,
                     "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
                ],
            },
        }
    )  # fmt: skip
    assert p.deleting and not p.ready and p.containers[0].waiting_reason == "CrashLoopBackOff"
    assert p.cpu_request_m == 250 and p.images == ("r/a:v1",)
