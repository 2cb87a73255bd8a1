"""Every fault's undo restores the state it found: for each registered fault, snapshot the whole
sandbox, inject, undo, snapshot again, and compare (and the fault's component is healthy).

A snapshot (``Component.snapshot``) holds the facts a fault can change, component by component
(schemas, migrations rows, roles and grants, settings, keys, topics and group offsets, the release
objects' specs, tags and digests, rules and targets, silences and routes, the release repository's
files), without the values that legitimately move (counters, timestamps, pids, generated names).
Snapshots cover every component, so a fault that reaches into another component (the simulator's
role revoked in PostgreSQL, a pending migration written into the release repository) is compared
there too.

Each fault must also show in the snapshot taken while it is injected: a snapshot blind to what a
fault changes would make the comparison after its undo prove nothing.

Faults run in stage order, so the release is moved as few times as possible; leaving a stage
(back to the release's start) is compared with the snapshot taken before it was entered.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from nova_gate.sandbox import manager, stages
from nova_gate.sandbox.stages import Stage

FAULTS = manager.faults()
STAGE_ORDER = list(Stage)
COMPONENT_ORDER = manager._selected(None)
ORDERED = sorted(
    FAULTS.values(), key=lambda f: (STAGE_ORDER.index(f.stage), COMPONENT_ORDER.index(f.component), f.name)
)


class Holder:
    """The stage the sandbox is at across this module's tests, and the snapshots taken there."""

    def __init__(self) -> None:
        self.stage = Stage.BASELINE
        self.baseline: dict[str, Any] | None = None
        self.here: dict[str, Any] | None = None
        self.timings: dict[str, float] = {}

    def go(self, stage: Stage) -> list[str]:
        """Move to ``stage``; return how leaving the previous one differs from its start."""
        problems: list[str] = []
        if self.baseline is None:
            stages.advance_to(Stage.BASELINE)
            self.baseline = self.here = manager.snapshot()
        if stage is self.stage:
            return problems
        if self.stage is not Stage.BASELINE:
            stages.advance_to(Stage.BASELINE)
            back = manager.snapshot()
            problems = [f"leaving stage {self.stage}: {d}" for d in manager.differences(self.baseline, back)]
            self.baseline = back
        self.stage = stage
        stages.advance_to(stage)
        self.here = self.baseline if stage is Stage.BASELINE else manager.snapshot()
        return problems


@pytest.fixture(scope="module")
def holder():
    h = Holder()
    t0 = time.monotonic()
    yield h
    problems = h.go(Stage.BASELINE)
    total = time.monotonic() - t0
    slowest = sorted(h.timings.items(), key=lambda kv: -kv[1])[:5]
    print(f"\nundo proof: {len(h.timings)} faults in {total:.0f} s; slowest: {slowest}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", [f.name for f in ORDERED])
def test_undo_restores_the_state_the_fault_found(name: str, holder: Holder) -> None:
    fault = FAULTS[name]
    left = holder.go(fault.stage)
    before = holder.here
    t0 = time.monotonic()
    try:
        fault.inject()
        broken = manager.snapshot()
    finally:
        fault.undo()
    after = manager.snapshot()
    holder.timings[name] = round(time.monotonic() - t0, 1)
    holder.here = after  # the next fault is compared with what it finds
    if fault.stage is Stage.BASELINE:
        holder.baseline = after
    diff = manager.differences(before, after)
    health = manager.status([fault.component])[fault.component]
    assert not left, "\n".join(left)
    # the snapshot sees the fault (else comparing after the undo would prove nothing)
    assert manager.differences(before, broken), f"{name}: the snapshot does not show what the fault changes"
    assert not diff, f"{name}: undo did not restore the state it found:\n" + "\n".join(diff)
    assert health["healthy"], f"{name}: {fault.component} unhealthy after the undo: {health['detail']}"
