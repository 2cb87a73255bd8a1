"""The sandbox cluster's faults: crash-looping, never-ready and misconfigured canaries, stuck
rollouts, old versions left behind, incomplete rollbacks, shrunk nodes, error logs."""

from __future__ import annotations

from nova_gate.sandbox import kube_client
from nova_gate.sandbox.base import Fault, SandboxError, Stage, wait_for
from nova_gate.sandbox.kube_client import NAMESPACE
from nova_gate.sandbox.kube_kwok import FAULT_LABEL
from nova_gate.sandbox.kube_release import (
    NODE_ALLOCATABLE,
    NODE_SHRUNK,
    apply_declared,
    clear_pod_faults,
    delete_deployment,
    deployment_body,
    release_spec,
    reset_specs,
    rollback,
    scale,
    scale_half,
    set_node_allocatable,
    wait_release,
    want_replicas,
    write_pod_logs,
)


def _first_pod(selector: str):
    pods = [
        p
        for p in kube_client.core().list_namespaced_pod(NAMESPACE, label_selector=selector, _request_timeout=15).items
        if p.metadata.deletion_timestamp is None
    ]
    if not pods:
        raise SandboxError(f"kubernetes: no pod matches {selector}")
    return sorted(pods, key=lambda p: p.metadata.name)[0]


def _label_pod(selector: str, fault: str, wait_for_ready: str) -> None:
    pod = _first_pod(selector)
    kube_client.core().patch_namespaced_pod(
        pod.metadata.name, NAMESPACE, {"metadata": {"labels": {FAULT_LABEL: fault}}}, _request_timeout=15
    )

    def applied() -> bool:
        p = kube_client.core().read_namespaced_pod(pod.metadata.name, NAMESPACE, _request_timeout=10)
        return any(c.type == "Ready" and c.status == "False" for c in (p.status.conditions or []))

    wait_for(applied, f"kwok stage {fault} on {pod.metadata.name}", 30)


def _heal_pods(versions: dict[str, int]) -> None:
    clear_pod_faults()
    wait_release(want_replicas(versions))


def _patch_template(name: str, patch: list[dict]) -> None:
    kube_client.apps().patch_namespaced_deployment(name, NAMESPACE, patch, _request_timeout=15)


def faults() -> list[Fault]:
    _, _, base, new = release_spec()
    canary_state = {base: 3, new: 1}
    victim = "auth-service"

    def canary_crashloop() -> None:
        _label_pod(f"app={victim},version={new}", "crashloop", "")

    init_victim = "search-service"

    def canary_init_crashloop() -> None:
        """The canary's template gains an init container that crash-loops (Init:CrashLoopBackOff)."""
        name = f"{init_victim}-{new}"
        kube_client.apps().patch_namespaced_deployment(
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
                kube_client.core()
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
        apply_declared(init_victim, new, 1)
        wait_release(want_replicas(canary_state))

    def canary_not_ready() -> None:
        _label_pod(f"app=user-service,version={new}", "not-ready", "")

    def missing_env() -> None:
        services, required_env, *_ = release_spec()
        pool = next(pl for s, _, pl in services if s == "media-service")
        env = deployment_body("media-service", 0, pool, base, 3, required_env)["spec"]["template"]["spec"][
            "containers"
        ][0]["env"]
        env = [e for e in env if e["name"] != "KAFKA_BROKERS"]  # one missing
        env = [dict(e, value="") if e["name"] == "JWT_ISSUER" else e for e in env]  # one present but empty
        _patch_template(
            f"media-service-{base}", [{"op": "replace", "path": "/spec/template/spec/containers/0/env", "value": env}]
        )
        wait_release(want_replicas({base: 3}))

    def no_readiness_probe() -> None:
        _patch_template(
            f"search-service-{base}",
            [{"op": "remove", "path": "/spec/template/spec/containers/0/readinessProbe"}],
        )
        wait_release(want_replicas({base: 3}))

    def rollout_stuck() -> None:
        _patch_template(
            f"feed-service-{new}",
            [
                {"op": "add", "path": "/spec/template/metadata/labels/nova.sandbox~1fault", "value": "not-ready"},
            ],
        )
        wait_for(_rollout_half_way, "a feed-service rollout stuck half way", 30)

    def rollout_unstuck() -> None:
        apply_declared("feed-service", new, 3)
        wait_release(want_replicas({new: 3}))

    def old_left_behind() -> None:
        apply_declared("notification-service", base, 1)
        wait_release(want_replicas({new: 3}) | {f"notification-service-{base}": 1})

    def old_removed() -> None:
        delete_deployment(f"notification-service-{base}")
        wait_release(want_replicas({new: 3}))

    def mixed_images() -> None:
        kube_client.apps().patch_namespaced_deployment(
            f"cdn-service-{base}",
            NAMESPACE,
            {"spec": {"template": {"spec": {"containers": [
                {"name": "cdn-service", "image": f"127.0.0.1:55000/nova-cdn-service:{new}"}]}}}},
            _request_timeout=15,
        )  # fmt: skip
        wait_release(want_replicas({base: 3, new: 0}))

    def rollback_incomplete() -> None:
        scale(f"events-service-{new}", 1)
        scale(f"events-service-{base}", 2)
        wait_release(want_replicas({base: 3, new: 0}) | {f"events-service-{new}": 1, f"events-service-{base}": 2})

    def restore_rolled_back() -> None:
        reset_specs(base, 3)
        rollback()

    def scale_short() -> None:
        scale(f"streaming-service-{new}", 2)
        wait_release(want_replicas({base: 3, new: 3}) | {f"streaming-service-{new}": 2})

    def scale_restored() -> None:
        scale_half()

    def canary_twice() -> None:
        scale(f"content-service-{new}", 2)
        wait_release(want_replicas(canary_state) | {f"content-service-{new}": 2})

    def canary_once() -> None:
        scale(f"content-service-{new}", 1)
        wait_release(want_replicas(canary_state))

    def heal_base() -> None:
        reset_specs(base, 3)
        wait_release(want_replicas({base: 3}))

    def shrink() -> None:
        set_node_allocatable(NODE_SHRUNK)

    def unshrink() -> None:
        set_node_allocatable(NODE_ALLOCATABLE)

    def error_logs() -> None:
        write_pod_logs(errors=True, service="messaging-service")

    def clean_logs() -> None:
        write_pod_logs(errors=False)

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


def _rollout_half_way() -> bool:
    d = kube_client.apps().read_namespaced_deployment("feed-service-v1.0.0", NAMESPACE, _request_timeout=10)
    return (d.status.observed_generation or 0) >= d.metadata.generation and (d.status.updated_replicas or 0) >= 1
