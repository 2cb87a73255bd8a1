"""Kubernetes facts: what the source reads (and release_repo parses from manifests), as frozen dataclasses,
and the resource-quantity parsers. No I/O, no verdicts: rules and sources both import from here."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

_MEM_SUFFIX: dict[str, int | Decimal] = {
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"),
    "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
}  # fmt: skip


_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$")


def _quantity(value: object) -> Decimal:
    """A Kubernetes resource quantity ("250m", "1.5", "64Gi", "1e3") as a Decimal; None/"" = 0."""
    if value is None or value == "":
        return Decimal(0)
    text = str(value).strip()
    m = _QUANTITY.match(text)
    if not m or (m.group(2) and m.group(2) not in _MEM_SUFFIX):
        raise ValueError(f"not a Kubernetes quantity: {text!r}")
    try:
        number = Decimal(m.group(1))
    except InvalidOperation as exc:
        raise ValueError(f"not a Kubernetes quantity: {text!r}") from exc
    return number * Decimal(_MEM_SUFFIX[m.group(2)]) if m.group(2) else number


def parse_cpu_m(value: object) -> int:
    """CPU quantity in millicores (rounded up, as Kubernetes does)."""
    q = _quantity(value) * 1000
    return int(q.to_integral_value(rounding="ROUND_CEILING"))


def parse_memory_b(value: object) -> int:
    """Memory quantity in bytes."""
    q = _quantity(value)
    return int(q.to_integral_value(rounding="ROUND_CEILING"))


@dataclass(frozen=True)
class ContainerSpec:
    name: str
    image: str
    #: name -> literal value; None when the value comes from a reference (valueFrom: secret, ...)
    env: Mapping[str, str | None]
    readiness_probe: bool
    liveness_probe: bool
    cpu_request_m: int
    memory_request_b: int


@dataclass(frozen=True)
class DeploymentFacts:
    name: str
    labels: Mapping[str, str]
    replicas: int  # spec.replicas
    generation: int
    observed_generation: int
    status_replicas: int
    updated: int
    ready: int
    available: int
    containers: tuple[ContainerSpec, ...]

    @property
    def version(self) -> str | None:
        return self.labels.get("version")

    def main_container(self, service: str) -> ContainerSpec | None:
        for c in self.containers:
            if c.name == service:
                return c
        return self.containers[0] if self.containers else None


@dataclass(frozen=True)
class ContainerState:
    name: str
    image: str
    ready: bool
    restart_count: int
    waiting_reason: str | None
    last_terminated_reason: str | None
    #: current state terminated (an init container that finished, or failed): reason and exit code
    terminated_reason: str | None = None
    exit_code: int | None = None


@dataclass(frozen=True)
class PodFacts:
    name: str
    namespace: str
    labels: Mapping[str, str]
    phase: str
    node: str | None
    ready: bool
    deleting: bool
    images: tuple[str, ...]  # spec images of the app containers
    containers: tuple[ContainerState, ...]
    cpu_request_m: int
    memory_request_b: int
    #: spec.initContainers' statuses (sidecars with restartPolicy Always included)
    init_containers: tuple[ContainerState, ...] = ()


@dataclass(frozen=True)
class NodeFacts:
    name: str
    ready: bool
    unschedulable: bool
    cpu_m: int  # allocatable
    memory_b: int


@dataclass(frozen=True)
class EndpointFacts:
    service: str
    ready: int
    not_ready: int


def _container_spec(c: Mapping[str, Any]) -> ContainerSpec:
    env: dict[str, str | None] = {}
    for e in c.get("env") or []:
        env[str(e.get("name"))] = None if "valueFrom" in e else str(e.get("value") or "")
    req = (c.get("resources") or {}).get("requests") or {}
    return ContainerSpec(
        name=str(c.get("name", "")),
        image=str(c.get("image", "")),
        env=env,
        readiness_probe=bool(c.get("readinessProbe")),
        liveness_probe=bool(c.get("livenessProbe")),
        cpu_request_m=parse_cpu_m(req.get("cpu")),
        memory_request_b=parse_memory_b(req.get("memory")),
    )


def deployment_facts(d: Mapping[str, Any]) -> DeploymentFacts:
    meta, spec, status = d.get("metadata") or {}, d.get("spec") or {}, d.get("status") or {}
    pod_spec = ((spec.get("template") or {}).get("spec")) or {}
    return DeploymentFacts(
        name=str(meta.get("name", "")),
        labels=dict(meta.get("labels") or {}),
        replicas=int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1),
        generation=int(meta.get("generation") or 0),
        observed_generation=int(status.get("observedGeneration") or 0),
        status_replicas=int(status.get("replicas") or 0),
        updated=int(status.get("updatedReplicas") or 0),
        ready=int(status.get("readyReplicas") or 0),
        available=int(status.get("availableReplicas") or 0),
        containers=tuple(_container_spec(c) for c in pod_spec.get("containers") or []),
    )


def pod_facts(p: Mapping[str, Any]) -> PodFacts:
    meta, spec, status = p.get("metadata") or {}, p.get("spec") or {}, p.get("status") or {}
    containers = spec.get("containers") or []
    states = [_container_state(s) for s in status.get("containerStatuses") or []]
    init_states = [_container_state(s) for s in status.get("initContainerStatuses") or []]
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    specs = [_container_spec(c) for c in containers]
    return PodFacts(
        name=str(meta.get("name", "")),
        namespace=str(meta.get("namespace", "")),
        labels=dict(meta.get("labels") or {}),
        phase=str(status.get("phase") or "Unknown"),
        node=spec.get("nodeName"),
        ready=ready,
        deleting=meta.get("deletionTimestamp") is not None,
        images=tuple(c.image for c in specs),
        containers=tuple(states),
        cpu_request_m=sum(c.cpu_request_m for c in specs),
        memory_request_b=sum(c.memory_request_b for c in specs),
        init_containers=tuple(init_states),
    )


def _container_state(s: Mapping[str, Any]) -> ContainerState:
    state, last = s.get("state") or {}, s.get("lastState") or {}
    terminated = state.get("terminated") or {}
    exit_code = terminated.get("exitCode")
    return ContainerState(
        name=str(s.get("name", "")),
        image=str(s.get("image", "")),
        ready=bool(s.get("ready")),
        restart_count=int(s.get("restartCount") or 0),
        waiting_reason=(state.get("waiting") or {}).get("reason"),
        last_terminated_reason=(last.get("terminated") or {}).get("reason"),
        terminated_reason=terminated.get("reason"),
        exit_code=None if exit_code is None else int(exit_code),
    )


def node_facts(n: Mapping[str, Any]) -> NodeFacts:
    meta, spec, status = n.get("metadata") or {}, n.get("spec") or {}, n.get("status") or {}
    alloc = status.get("allocatable") or {}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    return NodeFacts(
        name=str(meta.get("name", "")),
        ready=ready,
        unschedulable=bool(spec.get("unschedulable")),
        cpu_m=parse_cpu_m(alloc.get("cpu")),
        memory_b=parse_memory_b(alloc.get("memory")),
    )
