"""Bring the sandbox's components up and down in order; list and inject faults.

Components are named ``"module:Class"`` and imported on first use, so a component whose module
(or whose heavy dependency) is absent does not break the others. The start order comes from each
component's ``requires`` (a topological order; ties keep the table's order); ``up --only X``
brings up what X requires first.
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

from nova_gate.sandbox.base import Component, Fault, SandboxError, forget_stage, state_dir, write_json

# The table's order only breaks ties: the start order comes from ``Component.requires``.
COMPONENTS: dict[str, str] = {
    "release": "release:Release",
    "saas": "saas:SaasStandIns",
    "s3": "s3:S3",
    "pagerduty": "pagerduty:PagerDutyStandIn",
    "postgres": "postgres:Postgres",
    "redis": "redis:RedisServers",
    "clickhouse": "clickhouse:ClickHouse",
    "registry": "registry:Registry",
    "simulator": "simulator:Simulator",
    "alertmanager": "alertmanager:Alertmanager",
    "prometheus": "prometheus:Prometheus",
    "kafka": "kafka:Kafka",
    "streams": "streams:Streams",
    "opensearch": "opensearch:OpenSearch",
    "kubernetes": "kubernetes:Kubernetes",
}


def available() -> list[str]:
    """Component names whose module exists in this checkout."""
    names = []
    for name, target in COMPONENTS.items():
        module = target.split(":")[0]
        try:
            importlib.import_module(f"nova_gate.sandbox.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"nova_gate.sandbox.{module}":
                raise
            continue
        names.append(name)
    return names


def component_class(name: str) -> type[Component]:
    try:
        module_name, class_name = COMPONENTS[name].split(":")
    except KeyError:
        raise SandboxError(f"unknown sandbox component {name!r}; known: {', '.join(COMPONENTS)}") from None
    module = importlib.import_module(f"nova_gate.sandbox.{module_name}")
    cls = getattr(module, class_name)
    assert isinstance(cls, type) and issubclass(cls, Component)
    return cls


def component(name: str) -> Component:
    return component_class(name)()


def start_order(requires: Mapping[str, Iterable[str]], names: Iterable[str] | None = None) -> list[str]:
    """``names`` and everything they require, each after what it requires (ties: table order).

    >>> start_order({"a": (), "b": ("c",), "c": ("a",)}, ["b"])
    ['a', 'c', 'b']

    Raises SandboxError naming an unknown requirement or a cycle.
    """
    table = list(requires)
    for name, needs in requires.items():
        unknown = [n for n in needs if n not in requires]
        if unknown:
            raise SandboxError(f"sandbox component {name} requires unknown component(s): {', '.join(unknown)}")
    order: list[str] = []
    visiting: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            cycle = [*visiting[visiting.index(name) :], name]
            raise SandboxError(f"sandbox components require each other in a cycle: {' -> '.join(cycle)}")
        visiting.append(name)
        for need in sorted(requires[name], key=table.index):
            visit(need)
        visiting.pop()
        order.append(name)

    for name in table if names is None else sorted(names, key=table.index):
        visit(name)
    return order


def _requires(names: Iterable[str]) -> dict[str, tuple[str, ...]]:
    return {n: tuple(component_class(n).requires) for n in names}


def _selected(only: list[str] | None, with_requirements: bool = False) -> list[str]:
    """The components to act on, in start order; with their requirements (``up --only``)."""
    names = available()
    unknown = [n for n in only or [] if n not in COMPONENTS]
    if unknown:
        raise SandboxError(f"unknown sandbox component(s) {', '.join(unknown)}; known: {', '.join(COMPONENTS)}")
    missing = [n for n in only or [] if n not in names]
    if missing:
        raise SandboxError(f"component(s) not in this checkout: {', '.join(missing)}")
    requires = _requires(names)
    absent = sorted({r for need in requires.values() for r in need if r not in names and r in COMPONENTS})
    if absent:
        raise SandboxError(f"required component(s) not in this checkout: {', '.join(absent)}")
    order = start_order(requires, only or None)
    return order if with_requirements or not only else [n for n in order if n in only]


def up(only: list[str] | None = None, log: Any = print) -> dict[str, float]:
    """Install (if needed) and start components in order; return seconds taken per component."""
    timings: dict[str, float] = {}
    names = _selected(only, with_requirements=True)
    for i, name in enumerate(names, 1):
        comp = component(name)
        log(f"sandbox: {name} ({i} of {len(names)}): installing if needed, then starting")
        t0 = time.monotonic()
        comp.install()
        comp.start()
        timings[name] = round(time.monotonic() - t0, 1)
        log(f"sandbox: {name} up ({timings[name]}s)")
        if name in ("postgres", "kubernetes"):
            forget_stage()  # a (re)start may have moved the release: advance from its start next
    write_json(state_dir() / "timings.json", timings)
    return timings


def down(only: list[str] | None = None, log: Any = print) -> None:
    for name in reversed(_selected(only)):
        component(name).stop()
        log(f"sandbox: {name} stopped")


def reset(only: list[str] | None = None, log: Any = print) -> None:
    for name in reversed(_selected(only)):
        component(name).reset()
        log(f"sandbox: {name} reset")


def status(only: list[str] | None = None) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name in _selected(only):
        try:
            out[name] = component(name).health().as_dict()
        except Exception as exc:  # a status probe must never crash the listing
            out[name] = {"healthy": False, "endpoint": "", "pids": [], "detail": f"status failed: {exc}"}
    return out


def snapshot(only: list[str] | None = None) -> dict[str, Any]:
    """Every component's :meth:`Component.snapshot`, taken concurrently, as plain JSON data.

    A component whose snapshot fails maps to ``{"error": ...}`` (a difference, never a crash).
    """
    from concurrent.futures import ThreadPoolExecutor

    def one(name: str) -> Any:
        try:
            return json.loads(json.dumps(component(name).snapshot(), sort_keys=True, default=str))
        except Exception as exc:  # compared, and shown, as a difference
            return {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}

    names = _selected(only)
    with ThreadPoolExecutor(max_workers=len(names) or 1, thread_name_prefix="snapshot") as pool:
        return dict(zip(names, pool.map(one, names), strict=True))


def differences(before: Any, after: Any, path: str = "") -> list[str]:
    """Where two snapshots differ, one line per leaf: ``postgres.roles: [...] -> [...]``."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for key in sorted(set(before) | set(after), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in after:
                out.append(f"{where}: gone (was {json.dumps(before[key], default=str)[:200]})")
            elif key not in before:
                out.append(f"{where}: new ({json.dumps(after[key], default=str)[:200]})")
            else:
                out += differences(before[key], after[key], where)
        return out
    if isinstance(before, list) and isinstance(after, list) and before != after:
        gone = [x for x in before if x not in after]
        new = [x for x in after if x not in before]
        if gone or new:
            return [f"{path}: gone {json.dumps(gone, default=str)[:300]}, new {json.dumps(new, default=str)[:300]}"]
    if before != after:
        return [f"{path}: {json.dumps(before, default=str)[:200]} -> {json.dumps(after, default=str)[:200]}"]
    return []


def faults() -> dict[str, Fault]:
    """Every fault of every available component, by name."""
    found: dict[str, Fault] = {}
    for name in available():
        for fault in component(name).faults():
            if fault.name in found:
                raise SandboxError(f"fault {fault.name!r} defined twice")
            found[fault.name] = fault
    return found


def fault(name: str, undo: bool = False) -> Fault:
    known = faults()
    if name not in known:
        raise SandboxError(f"unknown fault {name!r}; known: {', '.join(sorted(known))}")
    f = known[name]
    (f.undo if undo else f.inject)()
    return f
