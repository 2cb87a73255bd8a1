"""The release's stages on the sandbox, in checklist order, and the one way to reach each.

A stage is a state of the sandbox's release: which migrations are applied and which version runs
how many replicas. Each stage names the release engineer's steps (the checklist's ``sqlx`` and
``kubectl`` commands) that enter it from the stage before; :func:`advance_to` plans the steps
from the recorded current stage and runs them. The main job (``nova_gate.rehearsal``), the fault
proofs and :attr:`Fault.stage <nova_gate.sandbox.base.Fault.stage>` all use this one model.

    baseline -> migrated -> canary -> scaled -> rolled-out
                               \\________\\__________\\-----> rolled-back

``rolled-back`` is entered from any stage that runs the new version (the bad canary is rolled back
from ``canary``, the good release's rollback drill from ``rolled-out``); ``baseline`` from anywhere
(the release's start: only the old version, the baseline's migrations).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

# the stage names and the recorded stage live in base (components and faults name stages; this
# module runs the steps that move between them, and so uses the components)
from nova_gate.sandbox.base import Stage as Stage
from nova_gate.sandbox.base import record_stage as _record
from nova_gate.sandbox.base import recorded_stage as current


@dataclass(frozen=True)
class Step:
    """A release engineer's action between two gates (the checklist's kubectl / sqlx commands)."""

    name: str
    run: Callable[[], object]


def _kube(function: str, name: str, *, optional: bool = False) -> Step:
    """A Kubernetes release step; ``optional`` steps do nothing when the checkout has no cluster."""

    def run() -> None:
        from nova_gate.sandbox import manager

        if "kubernetes" not in manager.available():
            if optional:
                return
            raise RuntimeError("the sandbox has no Kubernetes component in this checkout")
        from nova_gate.sandbox import kube_release

        {
            "reset_release": kube_release.reset_release,
            "canary": kube_release.canary,
            "scale_half": kube_release.scale_half,
            "rollout": kube_release.rollout,
            "drain_old": kube_release.drain_old,
            "rollback": kube_release.rollback,
        }[function]()

    return Step(name, run)


def _migrate() -> None:
    from nova_gate.sandbox import postgres

    postgres.apply_release_migrations()


def _revert() -> None:
    from nova_gate.sandbox import postgres

    postgres.revert_release_migrations()


MIGRATE = Step("sqlx migrate run (the release's migrations)", _migrate)
CANARY = _kube("canary", "kubectl apply the new version, 1 replica per service (canary 5%)")
SCALE_HALF = _kube("scale_half", "kubectl scale the new version to 3 replicas (50% traffic)")
ROLLOUT = _kube("rollout", "kubectl rollout: the new version at 3/3 everywhere")
DRAIN_OLD = _kube("drain_old", "kubectl delete the old version's Deployments")
ROLL_BACK = _kube("rollback", "kubectl scale the new version to 0 and the old one back to 3 (rollback)")
REVERT = Step("sqlx migrate revert to the baseline's migration (rollback)", _revert)
RESET = _kube("reset_release", "kubectl back to the release's start (the old version only)", optional=True)

ENTRY: dict[Stage, tuple[Step, ...]] = {
    Stage.BASELINE: (RESET, REVERT),
    Stage.MIGRATED: (MIGRATE,),
    Stage.CANARY: (CANARY,),
    Stage.SCALED: (SCALE_HALF,),
    Stage.ROLLED_OUT: (ROLLOUT, DRAIN_OLD),
    Stage.ROLLED_BACK: (ROLL_BACK, REVERT),
}
#: the forward path; ``rolled-back`` leaves it from any stage that runs the new version
FORWARD = (Stage.BASELINE, Stage.MIGRATED, Stage.CANARY, Stage.SCALED, Stage.ROLLED_OUT)
ROLLBACK_FROM = (Stage.CANARY, Stage.SCALED, Stage.ROLLED_OUT)


def steps(stage: Stage) -> tuple[Step, ...]:
    """The steps that enter this stage from the one before it."""
    return ENTRY[stage]


def plan(target: Stage, current: Stage | None) -> list[Step]:
    """The steps from ``current`` (None: unknown) to ``target``, e.g.

    >>> [s.name.split()[1] for s in plan(Stage.SCALED, Stage.MIGRATED)]
    ['apply', 'scale']
    """
    if target is current:
        return []
    if target is Stage.ROLLED_BACK:
        if current in ROLLBACK_FROM:
            return list(ENTRY[Stage.ROLLED_BACK])
        return plan(Stage.CANARY, current) + list(ENTRY[Stage.ROLLED_BACK])
    if current in FORWARD and FORWARD.index(target) > FORWARD.index(current):
        return [s for stage in FORWARD[FORWARD.index(current) + 1 : FORWARD.index(target) + 1] for s in ENTRY[stage]]
    # backwards, from rolled-back, or from an unknown state: from the release's start
    head = list(ENTRY[Stage.BASELINE])
    return head if target is Stage.BASELINE else head + plan(target, Stage.BASELINE)


#: called once per step: (step, seconds, the error or None)
StepReport = Callable[[Step, float, Exception | None], None]


def advance_to(
    target: Stage, *, report: StepReport | None = None, announce: Callable[[Step], None] | None = None
) -> list[Step]:
    """Run the steps from the current stage to ``target``; return them.

    Without ``report`` the first failing step raises (and the stage is recorded as unknown, so the
    next advance starts from the release's start). With ``report`` every step runs and each
    outcome is reported: the main job goes on, and the gate that follows judges the consequences.
    ``announce`` is called before each step.
    """
    steps = plan(target, current())
    for step in steps:
        if announce is not None:
            announce(step)
        t0 = time.monotonic()
        try:
            step.run()
        except Exception as exc:
            if report is None:
                _record(None)
                raise
            report(step, time.monotonic() - t0, exc)
            continue
        if report is not None:
            report(step, time.monotonic() - t0, None)
    _record(target)
    return steps


@contextmanager
def at(stage: Stage) -> Iterator[None]:
    """Put the sandbox at ``stage`` for a block, then back at the release's start.

    Nothing is done for ``baseline`` when the sandbox is recorded there (most faults' stage).
    """
    advance_to(stage)
    try:
        yield
    finally:
        advance_to(Stage.BASELINE)
