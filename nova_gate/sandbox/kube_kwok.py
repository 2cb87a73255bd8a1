"""kwok's configuration for the sandbox cluster: its default stages, the fault stages that make a
labelled pod not ready or crash-loop, and the container logs it serves.

A fault stage matches pods carrying ``FAULT_LABEL`` and writes their status through a Go template
(kwok's ``statusTemplate``); the crash-loop faults share one container-status block.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nova_gate.sandbox import kube_build
from nova_gate.sandbox.kube_client import NAMESPACE

FAULT_LABEL = "nova.sandbox/fault"  # on a pod (or a pod template): "not-ready" | "crashloop" | "init-crashloop"


def kwok_config(path: Path, log_dir: Path, services: list[str]) -> None:
    """kwok's default stages (from the kwok module source) + the sandbox's fault stages + logs."""
    import yaml

    stage_dir = kube_build.kwok_stage_dir()
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
    docs += fault_stages()
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


_NOW = "{{ $now | Quote }}"
#: where kwok puts a fake pod: its node's IP, and (for a running pod) a pod IP from the node's range
_HOST_IP = """{{ $hostIPs := NodeIPsWith .spec.nodeName }}
{{ with $hostIPs }}
hostIP: {{ index . 0 | Quote }}
{{ end }}
"""
_POD_IP = """{{ $podIPs := PodIPsWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) }}
{{ with $podIPs }}
podIP: {{ index . 0 | Quote }}
{{ end }}
phase: Running
"""  # noqa: E501
_START_TIME = "startTime: {{ or .status.startTime $now | Quote }}\n"
_PROBE_503 = "HTTP probe failed with statuscode: 503"
_INITIALIZING = "  state:\n    waiting:\n      reason: PodInitializing\n"


def _condition(kind: str, ok: bool, reason: str = "", message: str = "") -> str:
    status = '"True"' if ok else '"False"'
    if message:
        return (
            f"- lastTransitionTime: {_NOW}\n  status: {status}\n  type: {kind}\n"
            f'  reason: {reason}\n  message: "{message}"\n'
        )
    tail = f", reason: {reason}" if reason else ""
    return f"- {{lastTransitionTime: {_NOW}, status: {status}, type: {kind}{tail}}}\n"


def _statuses(field: str, containers: str, started: bool, restarts: int, state: str) -> str:
    """``field`` (containerStatuses, initContainerStatuses): one entry per container of ``.spec.<containers>``."""
    return (
        f"{field}:\n{{{{ range .spec.{containers} }}}}\n"
        "- image: {{ .image | Quote }}\n  name: {{ .name | Quote }}\n  ready: false\n"
        f"  started: {'true' if started else 'false'}\n  restartCount: {restarts}\n{state}{{{{ end }}}}\n"
    )


def _crash_looping(exit_code: int, message: str, back_off: str) -> str:
    """The state of a container that exited ``exit_code`` with ``message`` and waits ``back_off`` to restart."""
    return (
        f"  lastState:\n    terminated:\n      exitCode: {exit_code}\n      reason: Error\n"
        f'      message: "{message}"\n      startedAt: {_NOW}\n      finishedAt: {_NOW}\n'
        "  state:\n    waiting:\n      reason: CrashLoopBackOff\n"
        f'      message: {{{{ printf "back-off {back_off} restarting failed container=%s pod=%s" .name $pod'
        " | Quote }}\n"
    )


def _fault_stage(name: str, fault: str, match: list[dict[str, Any]], template: str) -> dict[str, Any]:
    """A kwok Stage for the pods labelled ``FAULT_LABEL=<fault>`` that also meet ``match``."""
    return {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": name},
        "spec": {
            "resourceRef": {"apiGroup": "v1", "kind": "Pod"},
            "selector": {
                "matchExpressions": [
                    {"key": ".metadata.deletionTimestamp", "operator": "DoesNotExist"},
                    {"key": f'.metadata.labels["{FAULT_LABEL}"]', "operator": "In", "values": [fault]},
                    *match,
                ]
            },
            "next": {"statusTemplate": template},
        },
    }


def fault_stages() -> list[dict[str, Any]]:
    """not-ready (running, readiness failing), crashloop (CrashLoopBackOff), init-crashloop
    (Init:CrashLoopBackOff: the pod stays Pending)."""
    scheduled = _condition("PodScheduled", True)
    not_ready = _condition("ContainersReady", False, "ContainersNotReady")
    running = f"  state:\n    running:\n      startedAt: {_NOW}\n"
    return [
        _fault_stage(
            "nova-pod-not-ready",
            "not-ready",
            [{"key": '.status.conditions.[] | select( .type == "Ready" ) | .status', "operator": "NotIn",
              "values": ["False"]}],
            "{{ $now := Now }}\nconditions:\n"
            + _condition("Initialized", True)
            + scheduled
            + _condition("Ready", False, "ContainersNotReady", f"Readiness probe failed: {_PROBE_503}")
            + not_ready
            + _statuses("containerStatuses", "containers", True, 0, running)
            + _HOST_IP + _POD_IP + _START_TIME,
        ),
        _fault_stage(
            "nova-pod-crashloop",
            "crashloop",
            [{"key": ".status.phase", "operator": "In", "values": ["Running"]},
             {"key": ".status.containerStatuses.[].state.waiting.reason", "operator": "NotIn",
              "values": ["CrashLoopBackOff"]}],
            "{{ $now := Now }}\n{{ $pod := .metadata.name }}\nconditions:\n"
            + _condition("Initialized", True)
            + scheduled
            + _condition("Ready", False, "ContainersNotReady")
            + not_ready
            + _statuses("containerStatuses", "containers", False, 6,
                        _crash_looping(101, "thread 'main' panicked: DATABASE_URL: connection refused", "5m0s"))
            + _HOST_IP + _POD_IP + _START_TIME,
        ),
        _fault_stage(
            "nova-pod-init-crashloop",
            "init-crashloop",
            [{"key": ".spec.nodeName", "operator": "Exists"},
             {"key": ".status.initContainerStatuses.[].state.waiting.reason", "operator": "NotIn",
              "values": ["CrashLoopBackOff"]}],
            "{{ $now := Now }}\n{{ $pod := .metadata.name }}\nphase: Pending\nconditions:\n"
            + _condition("Initialized", False, "ContainersNotInitialized")
            + scheduled
            + _condition("Ready", False, "ContainersNotInitialized")
            + not_ready
            + _statuses("initContainerStatuses", "initContainers", False, 5,
                        _crash_looping(1, "migrations not applied: timed out waiting for schema version", "2m40s"))
            + _statuses("containerStatuses", "containers", False, 0, _INITIALIZING)
            + _HOST_IP + _START_TIME,
        ),
    ]  # fmt: skip
