"""The release-stage model: every stage is reachable from every other, by the checklist's steps."""

from __future__ import annotations

import pytest

from nova_gate.sandbox import stages
from nova_gate.sandbox.base import Fault
from nova_gate.sandbox.stages import Stage


def _names(steps: list[stages.Step]) -> list[str]:
    return [s.name for s in steps]


def _simulate(target: Stage, current: Stage | None) -> dict[str, object]:
    """Replay a plan on a model of the sandbox: migrated?, replicas per version."""
    state: dict[str, object] = (
        {"migrated": False, "old": 3, "new": 0} if current in (None, Stage.BASELINE) else dict(EXPECTED[current])
    )
    if current is None:
        state = {"migrated": True, "old": 1, "new": 2}  # unknown: anything
    effects = {
        stages.RESET: {"old": 3, "new": 0},
        stages.REVERT: {"migrated": False},
        stages.MIGRATE: {"migrated": True},
        stages.CANARY: {"new": 1},
        stages.SCALE_HALF: {"new": 3},
        stages.ROLLOUT: {"new": 3},
        stages.DRAIN_OLD: {"old": 0},
        stages.ROLL_BACK: {"old": 3, "new": 0},
    }
    for step in stages.plan(target, current):
        state.update(effects[step])
    return state


EXPECTED: dict[Stage, dict[str, object]] = {
    Stage.BASELINE: {"migrated": False, "old": 3, "new": 0},
    Stage.MIGRATED: {"migrated": True, "old": 3, "new": 0},
    Stage.CANARY: {"migrated": True, "old": 3, "new": 1},
    Stage.SCALED: {"migrated": True, "old": 3, "new": 3},
    Stage.ROLLED_OUT: {"migrated": True, "old": 0, "new": 3},
    Stage.ROLLED_BACK: {"migrated": False, "old": 3, "new": 0},
}


@pytest.mark.parametrize("current", [*Stage, None], ids=lambda s: str(s))
@pytest.mark.parametrize("target", list(Stage), ids=str)
def test_every_plan_reaches_its_stage(target: Stage, current: Stage | None) -> None:
    assert _simulate(target, current) == EXPECTED[target]


def test_the_walks_take_the_checklist_steps() -> None:
    assert _names(stages.plan(Stage.CANARY, Stage.MIGRATED)) == [stages.CANARY.name]
    # the bad canary is rolled back from the canary, the good release's drill from the rollout
    assert stages.plan(Stage.ROLLED_BACK, Stage.CANARY) == [stages.ROLL_BACK, stages.REVERT]
    assert stages.plan(Stage.ROLLED_BACK, Stage.ROLLED_OUT) == [stages.ROLL_BACK, stages.REVERT]
    assert stages.plan(Stage.ROLLED_OUT, Stage.SCALED) == [stages.ROLLOUT, stages.DRAIN_OLD]
    assert stages.plan(Stage.BASELINE, Stage.BASELINE) == []
    # backwards (or from an unknown state): from the release's start
    assert stages.plan(Stage.MIGRATED, Stage.SCALED) == [stages.RESET, stages.REVERT, stages.MIGRATE]
    assert stages.plan(Stage.CANARY, None)[:2] == [stages.RESET, stages.REVERT]


def test_advance_records_the_stage_and_unknown_after_a_failed_step(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("NOVA_GATE_SANDBOX_DIR", str(tmp_path))
    ran: list[str] = []
    monkeypatch.setattr(
        stages,
        "plan",
        lambda target, current: [stages.Step(f"to {target} from {current}", lambda: ran.append("ok"))],
    )
    assert stages.current() is Stage.BASELINE  # nothing recorded: sandbox up starts there
    stages.advance_to(Stage.CANARY)
    assert stages.current() is Stage.CANARY and ran == ["ok"]

    def boom() -> None:
        raise RuntimeError("kubectl failed")

    monkeypatch.setattr(stages, "plan", lambda target, current: [stages.Step("boom", boom)])
    with pytest.raises(RuntimeError):
        stages.advance_to(Stage.SCALED)
    assert stages.current() is None
    seen: list[tuple[str, str | None]] = []
    stages.advance_to(Stage.SCALED, report=lambda step, s, exc: seen.append((step.name, exc and str(exc))))
    assert seen == [("boom", "kubectl failed")] and stages.current() is Stage.SCALED


def test_a_fault_stage_is_a_stage() -> None:
    f = Fault("x", "y", ("A",), lambda: None, lambda: None, stage="canary")  # type: ignore[arg-type]
    assert f.stage is Stage.CANARY and f.as_dict()["stage"] == "canary"
    with pytest.raises(ValueError):
        Fault("x", "y", ("A",), lambda: None, lambda: None, stage="observed")  # type: ignore[arg-type]
