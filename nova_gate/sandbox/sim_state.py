"""The simulator's active scenario: the compiled model, rebuilt when the scenario or knob file changes."""

from __future__ import annotations

import contextlib
import functools
import json
import threading
import time
from pathlib import Path
from typing import Any

from nova_gate.sandbox import ports
from nova_gate.sandbox.sim_model import (
    DEFAULT_SCENARIO,
    KNOB_FIELDS,
    Model,
    _neutral,
    compile_scenario,
    knobs_file,
    scenario_file,
)


# -- active scenario ----------------------------------------------------------------------------
class State:
    """The compiled model, rebuilt when the scenario or knob file changes."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._stamp: tuple[float, float] | None = None
        self.model = compile_scenario(DEFAULT_SCENARIO, time.time())
        self.knob_history: list[dict[str, Any]] = []
        self.scenario_meta: dict[str, Any] = {"name": DEFAULT_SCENARIO["name"], "anchor": self.model.anchor}

    @staticmethod
    def _mtime(path: Path) -> float:
        try:
            return path.stat().st_mtime_ns / 1e9
        except OSError:
            return 0.0

    def current(self) -> Model:
        stamp = (self._mtime(scenario_file()), self._mtime(knobs_file()))
        if stamp == self._stamp:
            return self.model
        with self.lock:
            if stamp != self._stamp:
                self._reload()
                self._stamp = stamp
        return self.model

    def _reload(self) -> None:
        knobs: list[dict[str, Any]] = []
        with contextlib.suppress(OSError, ValueError):
            knobs = json.loads(knobs_file().read_text()).get("history", [])
        raw, anchor = DEFAULT_SCENARIO, self.scenario_meta.get("anchor", time.time())
        try:
            data = json.loads(scenario_file().read_text())
            raw, anchor = data["scenario"], float(data["anchor"])
        except (OSError, ValueError, KeyError) as exc:
            if scenario_file().exists():
                print(f"nova-sim: cannot read {scenario_file()}: {exc}; keeping the default", flush=True)
        try:
            self.model = compile_scenario(raw, anchor, knobs)
        except (ValueError, KeyError, TypeError) as exc:
            print(f"nova-sim: bad scenario: {exc}; keeping the previous one", flush=True)
            return
        self.knob_history = knobs
        self.scenario_meta = {"name": self.model.name, "anchor": anchor}
        print(f"nova-sim: scenario {self.model.name!r} anchor={anchor:.0f} knobs={len(knobs)}", flush=True)

    def knob_state(self) -> dict[str, dict[str, Any]]:
        """The latest snapshot per (service, version) key."""
        latest: dict[str, dict[str, Any]] = {}
        for snap in sorted(self.knob_history, key=lambda s: s["since"]):
            latest[f"{snap['service']}/{snap.get('version') or '*'}"] = snap
        return {k: v for k, v in latest.items() if not _neutral(v)}

    def set_knob(self, body: dict[str, Any]) -> dict[str, Any]:
        service = body.get("service")
        if service not in ports.SERVICES:
            raise ValueError(f"unknown service {service!r}")
        version = body.get("version") or "*"
        unknown = set(body) - {"service", "version", *KNOB_FIELDS}
        if unknown:
            raise ValueError(f"unknown knob(s) {', '.join(sorted(unknown))}; known: {', '.join(KNOB_FIELDS)}")
        with self.lock:
            previous = next(
                (
                    s
                    for s in sorted(self.knob_history, key=lambda s: s["since"], reverse=True)
                    if s["service"] == service and (s.get("version") or "*") == version
                ),
                {},
            )
            snap = {"service": service, "version": version, "since": time.time()}
            for key in KNOB_FIELDS:
                snap[key] = body[key] if key in body else previous.get(key)
            self.knob_history.append(snap)
            self._write_knobs()
        self.current()
        return snap

    def reset_knobs(self) -> None:
        with self.lock:
            now = time.time()
            for key in list(self.knob_state()):
                service, version = key.split("/", 1)
                self.knob_history.append({"service": service, "version": version, "since": now})
            self._write_knobs()
        self.current()

    def _write_knobs(self) -> None:
        path = knobs_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"history": self.knob_history}, indent=1))
        tmp.replace(path)

    def live_knob(self, service: str, version: str | None = None) -> dict[str, Any]:
        state = self.knob_state()
        merged: dict[str, Any] = {}
        for key in (f"{service}/*", f"{service}/{version}" if version else ""):
            merged.update({k: v for k, v in state.get(key, {}).items() if v is not None})
        return merged


@functools.cache
def state() -> State:
    """The process' one State (made on first use)."""
    return State()
