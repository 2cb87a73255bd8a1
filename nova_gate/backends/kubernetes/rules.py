"""Kubernetes verdicts: env vars, capacity, probes and endpoints, canary, split, rollout, rollback.

Pure functions of the facts in facts.py (the source and release_repo build them): no I/O, unit-tested.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from nova_gate.backends.kubernetes.facts import (
    ContainerSpec,
    ContainerState,
    DeploymentFacts,
    EndpointFacts,
    NodeFacts,
    PodFacts,
)
from nova_gate.verdict import Verdict, failed, inconclusive, passed


def gib(b: int) -> str:
    return f"{b / 2**30:.1f}Gi"


def cores(m: int) -> str:
    return f"{m / 1000:g}"


def image_tag(image: str) -> str:
    """The tag of an image reference ("" when it has none).

    ``name:tag@sha256:...`` (what kustomize writes when an overlay sets both) is its tag: the
    container runtime pulls by the digest, which the tag names. A reference by digest alone
    returns the digest.
    """
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        return last.split(":", 1)[1]
    return digest


def _live(pods: Iterable[PodFacts]) -> list[PodFacts]:
    return [p for p in pods if not p.deleting and p.phase not in ("Succeeded", "Failed")]


# -- PRE-CFG-1 ---------------------------------------------------------------------------------
def required_env(service: str, deployments: Sequence[DeploymentFacts], required: Sequence[str]) -> Verdict:
    """Every deployment of the service defines every required variable, none empty."""
    expected = f"{', '.join(required)} set and non-empty"
    if not required:
        return inconclusive("expectations.required_env is empty: nothing to check", expected=expected)
    if not deployments:
        return failed(f"{service}: no deployment found", observed=[], expected=expected)
    problems, observed = [], {}
    for d in deployments:
        c = d.main_container(service)
        if c is None:
            problems.append(f"{d.name}: no container")
            continue
        missing = [n for n in required if n not in c.env]
        empty = [n for n in required if n in c.env and c.env[n] == ""]
        observed[d.name] = {"missing": missing, "empty": empty, "defined": sorted(c.env)}
        if missing:
            problems.append(f"{d.name} lacks {', '.join(missing)}")
        if empty:
            problems.append(f"{d.name} has empty {', '.join(empty)}")
    if problems:
        return failed("; ".join(problems), observed=observed, expected=expected)
    return passed(
        f"{service}: {len(required)} required variables set in {len(deployments)} deployment(s)",
        observed=observed,
        expected=expected,
    )


# -- PRE-INF-1 ---------------------------------------------------------------------------------
@dataclass
class Usage:
    """Requests of the running pods on the counted nodes, summed while pods stream by."""

    cpu_m: int = 0
    memory_b: int = 0
    pods: int = 0
    without_requests: int = 0

    def add(self, pods: Iterable[PodFacts], nodes: set[str]) -> Usage:
        for p in pods:
            if p.deleting or p.phase in ("Succeeded", "Failed") or p.node not in nodes:
                continue
            self.pods += 1
            self.cpu_m += p.cpu_request_m
            self.memory_b += p.memory_request_b
            if not p.cpu_request_m and not p.memory_request_b:
                self.without_requests += 1
        return self


def extra_set(
    deployments: Sequence[DeploymentFacts],
    service_names: Iterable[str],
    new_version: Sequence[DeploymentFacts] = (),
) -> tuple[int, int]:
    """CPU (m) and memory (bytes) of one more full set of every service's replicas."""
    detail = extra_set_detail(deployments, service_names, new_version)
    return sum(int(str(d["cpu_m"])) for d in detail.values()), sum(int(str(d["memory_b"])) for d in detail.values())


def extra_set_detail(
    deployments: Sequence[DeploymentFacts],
    service_names: Iterable[str],
    new_version: Sequence[DeploymentFacts] = (),
) -> dict[str, dict[str, object]]:
    """Per service: the running version's replica count times the *new* version's requests.

    ``new_version`` are the release's Deployments (its manifests, or the canary deployment); a
    service without one is assumed to request what the running version does, and the evidence
    says so (``requests_from``).
    """
    wanted = set(service_names)
    new_by_service: dict[str, ContainerSpec] = {}
    for d in new_version:
        service = d.labels.get("app", "")
        c = d.main_container(service)
        if service in wanted and c is not None and service not in new_by_service:
            new_by_service[service] = c
    sums: dict[str, list[int]] = {}  # service -> [replicas, cpu_m, memory_b]
    for d in deployments:
        service = d.labels.get("app", "")
        old = d.main_container(service)
        if service not in wanted or old is None:
            continue
        c = new_by_service.get(service, old)
        total = sums.setdefault(service, [0, 0, 0])
        total[0] += d.replicas
        total[1] += d.replicas * c.cpu_request_m
        total[2] += d.replicas * c.memory_request_b
    return {
        service: {
            "replicas": replicas,
            "cpu_m": cpu,
            "memory_b": mem,
            "requests_from": "new version" if service in new_by_service else "running version (assumed unchanged)",
        }
        for service, (replicas, cpu, mem) in sums.items()
    }


def capacity_headroom(nodes: Sequence[NodeFacts], usage: Usage, extra_cpu_m: int, extra_mem_b: int) -> Verdict:
    """Allocatable of Ready, schedulable nodes minus pod requests leaves room for the extra set."""
    usable = [n for n in nodes if n.ready and not n.unschedulable]
    alloc_cpu = sum(n.cpu_m for n in usable)
    alloc_mem = sum(n.memory_b for n in usable)
    free_cpu, free_mem = alloc_cpu - usage.cpu_m, alloc_mem - usage.memory_b
    observed = {
        "nodes_usable": [n.name for n in usable],
        "nodes_excluded": [n.name for n in nodes if n not in usable],
        "allocatable": {"cpu": cores(alloc_cpu), "memory": gib(alloc_mem)},
        "requested": {"cpu": cores(usage.cpu_m), "memory": gib(usage.memory_b), "pods": usage.pods},
        "free": {"cpu": cores(free_cpu), "memory": gib(free_mem)},
        "pods_without_requests": usage.without_requests,
    }
    expected = f"free >= one extra set of replicas: cpu {cores(extra_cpu_m)}, memory {gib(extra_mem_b)}"
    if not usable:
        return failed("no Ready, schedulable node", observed=observed, expected=expected)
    if extra_cpu_m == 0 and extra_mem_b == 0:
        return inconclusive("the release's deployments request no resources: headroom cannot be judged",
                            observed=observed, expected=expected)  # fmt: skip
    short = []
    if free_cpu < extra_cpu_m:
        short.append(f"cpu free {cores(free_cpu)} < needed {cores(extra_cpu_m)}")
    if free_mem < extra_mem_b:
        short.append(f"memory free {gib(free_mem)} < needed {gib(extra_mem_b)}")
    if short:
        return failed(f"not enough capacity on {len(usable)} node(s): " + "; ".join(short),
                      observed=observed, expected=expected)  # fmt: skip
    return passed(
        f"{len(usable)} node(s): free cpu {cores(free_cpu)} / memory {gib(free_mem)} covers "
        f"an extra set ({cores(extra_cpu_m)} cpu, {gib(extra_mem_b)})",
        observed=observed,
        expected=expected,
    )


# -- PRE-INF-7 ---------------------------------------------------------------------------------
def readiness_and_endpoints(
    service: str, deployments: Sequence[DeploymentFacts], service_exists: bool, endpoints: EndpointFacts | None
) -> Verdict:
    expected = "every deployment has a readiness probe; the Service has ready endpoints"
    problems = []
    if not deployments:
        problems.append("no deployment")
    for d in deployments:
        c = d.main_container(service)
        if c is None or not c.readiness_probe:
            problems.append(f"{d.name} has no readiness probe")
    ready = endpoints.ready if endpoints else 0
    if not service_exists:
        problems.append(f"Service {service} missing")
    elif ready == 0:
        problems.append(f"Service {service} has no ready endpoints")
    observed = {
        "deployments": [d.name for d in deployments],
        "ready_endpoints": ready,
        "not_ready_endpoints": endpoints.not_ready if endpoints else 0,
    }
    if problems:
        return failed(f"{service}: " + "; ".join(problems), observed=observed, expected=expected)
    return passed(f"{service}: readiness probes set, {ready} ready endpoint(s)", observed=observed, expected=expected)


# -- canary ------------------------------------------------------------------------------------
def _pod_names(pods: Sequence[PodFacts]) -> list[str]:
    return [p.name for p in pods]


def canary_count(service: str, pods: Iterable[PodFacts], version: str) -> Verdict:
    """CAN-1: exactly one live pod labelled app=<service>,version=<version>."""
    live = _live(pods)
    expected = f"1 pod with version={version}"
    if len(live) == 1:
        return passed(f"{service}: 1 canary pod ({live[0].name})", observed=_pod_names(live), expected=expected)
    return failed(f"{service}: {len(live)} canary pods labelled version={version}",
                  observed=_pod_names(live), expected=expected)  # fmt: skip


def canary_ready(service: str, pods: Iterable[PodFacts]) -> Verdict:
    """CAN-2: every canary pod Running with all containers ready."""
    live = _live(pods)
    expected = "every canary pod Running, containers ready (1/1)"
    observed = [
        {"pod": p.name, "phase": p.phase, "ready": f"{sum(c.ready for c in p.containers)}/{len(p.images)}"}
        for p in live
    ]
    if not live:
        return failed(f"{service}: no canary pod", observed=observed, expected=expected)
    bad = [p for p in live if p.phase != "Running" or not p.ready or not all(c.ready for c in p.containers)]
    if bad:
        return failed(
            f"{service}: " + ", ".join(f"{p.name} {p.phase} ready={p.ready}" for p in bad),
            observed=observed,
            expected=expected,
        )
    return passed(f"{service}: {len(live)} canary pod(s) Running and ready", observed=observed, expected=expected)


CRASH_REASONS = ("CrashLoopBackOff", "Error", "OOMKilled", "RunContainerError", "CreateContainerError",
                 "CreateContainerConfigError", "ImagePullBackOff", "ErrImagePull", "InvalidImageName")  # fmt: skip


def _crashing(c: ContainerState, init: bool) -> str | None:
    """Why a container counts as crashing (kubectl's ``Init:CrashLoopBackOff``, ...), else None.

    An init container that terminated with exit code 0 (``Completed``) is done, not crashing; one
    that terminated otherwise is ``Init:Error`` even without restarts (restartPolicy: Never).
    """
    prefix = "Init:" if init else ""
    if c.waiting_reason in CRASH_REASONS:
        return f"{prefix}{c.waiting_reason} (restarts={c.restart_count})"
    if c.restart_count > 0:
        return f"{prefix}restarts={c.restart_count}" + (
            f" (last {c.last_terminated_reason})" if c.last_terminated_reason else ""
        )
    failed_exit = c.exit_code not in (None, 0) or c.terminated_reason in ("Error", "OOMKilled")
    if init and failed_exit:
        return f"Init:{c.terminated_reason or 'Error'} (exit {c.exit_code})"
    return None


def canary_not_crashing(service: str, pods: Iterable[PodFacts]) -> Verdict:
    """CAN-8: no canary container, init containers included, restarting or in a crash loop."""
    live = _live(pods)
    expected = "restartCount 0, no CrashLoopBackOff (app and init containers)"
    observed = [
        {"pod": p.name, "container": c.name, "init": init, "restarts": c.restart_count, "waiting": c.waiting_reason,
         "terminated": c.terminated_reason}
        for p in live
        for init, group in ((True, p.init_containers), (False, p.containers))
        for c in group
    ]  # fmt: skip
    if not live:
        return inconclusive(f"{service}: no canary pod to judge", observed=observed, expected=expected)
    bad = [
        f"{p.name}/{c.name} {why}"
        for p in live
        for init, group in ((True, p.init_containers), (False, p.containers))
        for c in group
        if (why := _crashing(c, init)) is not None
    ]
    if bad:
        return failed(f"{service}: " + ", ".join(bad), observed=observed, expected=expected)
    return passed(f"{service}: no canary container restarting", observed=observed, expected=expected)


ERROR_LINE = re.compile(r'"level"\s*:\s*"(ERROR|FATAL)"|\b(ERROR|FATAL|CRITICAL)\b|panicked at', re.IGNORECASE)


def canary_log_errors(service: str, logs: Mapping[str, str], source: str, show: int = 5) -> Verdict:
    """CAN-9: error lines in the canary pods' logs, counted and shown (warn-only item)."""
    expected = "no ERROR/FATAL/panic lines in the canary logs"
    if not logs:
        return inconclusive(f"{service}: no canary pod logs to read ({source})", expected=expected)
    hits = {pod: [line for line in text.splitlines() if ERROR_LINE.search(line)] for pod, text in logs.items()}
    total = sum(len(v) for v in hits.values())
    lines = sum(len(t.splitlines()) for t in logs.values())
    observed = {"error_lines": total, "lines_read": lines, "source": source,
                "sample": [ln[:200] for v in hits.values() for ln in v][:show]}  # fmt: skip
    if total:
        return failed(f"{service}: {total} error line(s) in {len(logs)} canary pod log(s) via {source}",
                      observed=observed, expected=expected)  # fmt: skip
    return passed(f"{service}: 0 error lines in {lines} line(s) of canary logs via {source}",
                  observed=observed, expected=expected)  # fmt: skip


# -- scale / rollout / rollback ------------------------------------------------------------------
def _of_version(deployments: Sequence[DeploymentFacts], version: str) -> list[DeploymentFacts]:
    return [d for d in deployments if d.version == version]


def split_50_50(service: str, deployments: Sequence[DeploymentFacts], new: str, old: str) -> Verdict:
    """SCL-1: the new version runs as many ready replicas as the old version's (50/50)."""
    n, o = _of_version(deployments, new), _of_version(deployments, old)
    new_spec, new_ready = sum(d.replicas for d in n), sum(d.ready for d in n)
    old_spec = sum(d.replicas for d in o)
    observed = {"new": {"spec": new_spec, "ready": new_ready}, "old": {"spec": old_spec}}
    expected = f"{new} replicas (spec and ready) == {old} replicas > 0"
    if not n or not o or old_spec == 0:
        return failed(f"{service}: needs both versions deployed (new: {len(n)}, old: {len(o)} deployment(s))",
                      observed=observed, expected=expected)  # fmt: skip
    if new_spec != old_spec or new_ready != old_spec:
        return failed(f"{service}: {new} at {new_ready} ready / {new_spec} planned vs {old} at {old_spec}",
                      observed=observed, expected=expected)  # fmt: skip
    return passed(f"{service}: {new} {new_ready}/{old_spec} = {old} {old_spec} (50/50)",
                  observed=observed, expected=expected)  # fmt: skip


def rolled_out(service: str, deployments: Sequence[DeploymentFacts]) -> Verdict:
    """ROL-1: kubectl rollout status, for every deployment of the service."""
    expected = "observedGeneration == generation; updated == ready == available == desired"
    observed = [
        {"name": d.name, "generation": d.generation, "observed": d.observed_generation, "desired": d.replicas,
         "replicas": d.status_replicas, "updated": d.updated, "ready": d.ready, "available": d.available}
        for d in deployments
    ]  # fmt: skip
    if not deployments:
        return failed(f"{service}: no deployment", observed=observed, expected=expected)
    bad = []
    for d in deployments:
        if d.observed_generation < d.generation:
            bad.append(f"{d.name} generation {d.generation} not observed yet ({d.observed_generation})")
        elif not (d.updated == d.ready == d.available == d.status_replicas == d.replicas):
            bad.append(
                f"{d.name} {d.updated} updated, {d.ready} ready, {d.status_replicas} total of {d.replicas} desired"
            )
    if bad:
        return failed(f"{service}: " + "; ".join(bad), observed=observed, expected=expected)
    return passed(f"{service}: {len(deployments)} deployment(s) rolled out", observed=observed, expected=expected)


def single_version(service: str, pods: Iterable[PodFacts], version: str) -> Verdict:
    """ROL-2/RBK-4: every live pod of the service runs images tagged ``version``."""
    live = _live(pods)
    expected = f"every pod's image tagged {version}"
    by_tag: dict[str, list[str]] = {}
    for p in live:
        for image in p.images:
            by_tag.setdefault(image_tag(image), []).append(p.name)
    observed = {tag: sorted(set(names)) for tag, names in by_tag.items()}
    if not live:
        return failed(f"{service}: no running pod", observed=observed, expected=expected)
    other = {t: n for t, n in observed.items() if t != version}
    if other:
        text = ", ".join(f"{len(n)} pod(s) on {t or 'untagged'}" for t, n in other.items())
        return failed(f"{service}: {text} (want only {version})", observed=observed, expected=expected)
    return passed(f"{service}: all {len(live)} pod(s) run {version}", observed=observed, expected=expected)


def no_version_left(service: str, deployments: Sequence[DeploymentFacts], old: str) -> Verdict:
    """ROL-3: no deployment of the old version remains after the drain."""
    left = [d.name for d in _of_version(deployments, old)] + [
        d.name for d in deployments if d.name.endswith(f"-{old}") and d.version != old
    ]
    expected = f"no {old} deployment"
    if left:
        return failed(f"{service}: {old} deployment(s) still present: {', '.join(sorted(set(left)))}",
                      observed=sorted(set(left)), expected=expected)  # fmt: skip
    return passed(f"{service}: no {old} deployment left", observed=[], expected=expected)


def scaled_to_zero(service: str, deployments: Sequence[DeploymentFacts], new: str) -> Verdict:
    """RBK-1: the new version desires and runs 0 replicas (a deleted deployment counts as 0)."""
    n = _of_version(deployments, new)
    observed = {d.name: {"desired": d.replicas, "running": d.status_replicas} for d in n}
    expected = f"{new}: 0 desired, 0 running"
    bad = [f"{d.name} desired {d.replicas}, running {d.status_replicas}" for d in n if d.replicas or d.status_replicas]
    if bad:
        return failed(f"{service}: " + "; ".join(bad), observed=observed, expected=expected)
    what = "scaled to 0" if n else "has no deployment"
    return passed(f"{service}: {new} {what}", observed=observed, expected=expected)


def back_at_full(service: str, deployments: Sequence[DeploymentFacts], old: str, replicas: int) -> Verdict:
    """RBK-2: the old version back at its full replica count, all ready."""
    o = _of_version(deployments, old)
    spec, ready = sum(d.replicas for d in o), sum(d.ready for d in o)
    observed = {"deployments": [d.name for d in o], "desired": spec, "ready": ready}
    expected = f"{old}: {replicas} desired and ready"
    if not o:
        return failed(f"{service}: no {old} deployment", observed=observed, expected=expected)
    if spec != replicas or ready != replicas:
        return failed(f"{service}: {old} at {ready} ready / {spec} desired, want {replicas}",
                      observed=observed, expected=expected)  # fmt: skip
    return passed(f"{service}: {old} back at {replicas}/{replicas}", observed=observed, expected=expected)
