"""Bring the sandbox's components up and down in order; list and inject faults.

Components are named ``"module:Class"`` and imported on first use, so a component whose module
(or whose heavy dependency) is absent does not break the others.
"""

from __future__ import annotations

import importlib
import time
from typing import Any

from nova_gate.sandbox.base import Component, Fault, SandboxError, state_dir, write_json

# Start order matters: the simulator needs PostgreSQL and Redis, Prometheus scrapes the simulator.
COMPONENTS: dict[str, str] = {
    "release": "release:Release",
    "saas": "saas:SaasStandIns",
    "s3": "s3:S3",
    "postgres": "postgres:Postgres",
    "redis": "redis:RedisServers",
    "clickhouse": "clickhouse:ClickHouse",
    "registry": "registry:Registry",
    "simulator": "simulator:Simulator",
    "alertmanager": "alertmanager:Alertmanager",
    "prometheus": "prometheus:Prometheus",
    "kafka": "kafka:Kafka",
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


def component(name: str) -> Component:
    try:
        module_name, class_name = COMPONENTS[name].split(":")
    except KeyError:
        raise SandboxError(f"unknown sandbox component {name!r}; known: {', '.join(COMPONENTS)}") from None
    module = importlib.import_module(f"nova_gate.sandbox.{module_name}")
    cls = getattr(module, class_name)
    instance = cls()
    assert isinstance(instance, Component)
    return instance


def _selected(only: list[str] | None) -> list[str]:
    names = available()
    if not only:
        return names
    unknown = [n for n in only if n not in COMPONENTS]
    if unknown:
        raise SandboxError(f"unknown sandbox component(s) {', '.join(unknown)}; known: {', '.join(COMPONENTS)}")
    missing = [n for n in only if n not in names]
    if missing:
        raise SandboxError(f"component(s) not in this checkout: {', '.join(missing)}")
    return [n for n in names if n in only]


def up(only: list[str] | None = None, log: Any = print) -> dict[str, float]:
    """Install (if needed) and start components in order; return seconds taken per component."""
    timings: dict[str, float] = {}
    names = _selected(only)
    for i, name in enumerate(names, 1):
        comp = component(name)
        log(f"sandbox: {name} ({i} of {len(names)}): installing if needed, then starting")
        t0 = time.monotonic()
        comp.install()
        comp.start()
        timings[name] = round(time.monotonic() - t0, 1)
        log(f"sandbox: {name} up ({timings[name]}s)")
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


def faults() -> dict[str, Fault]:
    """Every fault of every available component, by name."""
    found: dict[str, Fault] = {}
    for name in available():
        comp = component(name)
        for fault in getattr(comp, "faults", lambda: [])():
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
