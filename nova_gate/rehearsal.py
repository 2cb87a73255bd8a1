"""Walk releases against the sandbox: each phase's sandbox steps, then its gate.

This is the main job of the README. Two walks, each leaving its phases' audit records and an
index page in reports/:

1. ``good-release``: every phase in checklist order (then the rollback drill); every gate must
   PROCEED.
2. ``bad-canary``: the same release whose canary breaches the checklist's limits (scenario
   ``rehearsal-bad-canary``): the migrations and images gates PROCEED, the canary gate must decide
   ROLLBACK, the sandbox rolls back with the checklist's steps (new version scaled to 0, old back to
   full replicas, migrations reverted) and the rollback gate must PROCEED.

The main job exits 0 only when both walks end as expected. Whatever happens, the sandbox is left
as found: the start state of the release (only the old version running) under the good scenario.
Human items are attested by the sandbox operator, as a person would.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nova_gate.catalog import PHASE_TITLES, PHASES, load_catalog
from nova_gate.config import load_environment, project_root
from nova_gate.sandbox import stages
from nova_gate.sandbox.stages import Stage, Step

OPERATOR = "sandbox-rehearsal"
GOOD_SCENARIO = "good-release"
BAD_SCENARIO = "rehearsal-bad-canary"


def _attest_human_items() -> None:
    from nova_gate.policy import attest

    for item in load_catalog():
        if item.verification == "attestation":
            path = attest(item.id, OPERATOR, "rehearsal on the sandbox")
            print(f"attested {item.id} by {OPERATOR} in {path}")


# The release stage the sandbox is brought to before each phase's gate in the good walk.
STAGES: dict[str, Stage] = {
    "migrations": Stage.MIGRATED,
    "canary_gate": Stage.CANARY,
    "scale_gate": Stage.SCALED,
    "rollout": Stage.ROLLED_OUT,
    "rollback": Stage.ROLLED_BACK,
}
# The rollback phase is a drill after the T+24h review, then the sandbox is back at its start.
ORDER = [p for p in PHASES if p != "rollback"] + ["rollback"]


@dataclass
class Walk:
    name: str
    title: str
    scenario: str
    phases: list[tuple[str, str]]  # (phase, expected decision)
    #: the release stage each phase's gate judges (phases not named: wherever the sandbox is)
    stages: dict[str, Stage]
    expected: str
    #: a walk that goes on after an unexpected decision (the bad canary must still roll back)
    always_continue: bool = False
    results: list[dict[str, Any]] = field(default_factory=list)


def good_walk() -> Walk:
    return Walk(
        "good-release",
        "the good release, every phase",
        GOOD_SCENARIO,
        [(p, "PROCEED") for p in ORDER],
        STAGES,
        "every phase PROCEEDs",
    )


def bad_walk() -> Walk:
    return Walk(
        "bad-canary",
        "a bad canary, rejected and rolled back",
        BAD_SCENARIO,
        [("migrations", "PROCEED"), ("images", "PROCEED"), ("canary_gate", "ROLLBACK"), ("rollback", "PROCEED")],
        {"migrations": Stage.MIGRATED, "canary_gate": Stage.CANARY, "rollback": Stage.ROLLED_BACK},
        "the canary gate decides ROLLBACK; after the rollback steps the rollback gate PROCEEDs",
        always_continue=True,
    )


def reports_dir() -> Path:
    return project_root() / "reports"


def advance_to(
    stage: Stage, report: stages.StepReport | None = None, announce: Callable[[Step], None] | None = None
) -> list[Step]:
    """The sandbox's release at ``stage`` (the release engineer's steps); a seam for tests."""
    return stages.advance_to(stage, report=report, announce=announce)


def run_phase(phase: str) -> dict[str, Any]:
    """The phase's gate in a fresh pytest process; its decision (ERROR when it wrote none)."""
    started = time.time()
    # The run's own decision file (removed by the plugin when the run starts), never the shared
    # "latest" pointer: a run that dies before deciding leaves no file, not the previous phase's.
    path = reports_dir() / f".rehearsal-{phase}.decision.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-m",
            phase,
            "-q",
            "--operator",
            OPERATOR,
            "-p",
            "no:randomly",
            f"--decision-file={path}",
        ],
        cwd=project_root(),
        check=False,
    )
    try:
        if path.stat().st_mtime < started - 1:
            raise ValueError(f"{path.name} is older than this run")
        decision: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        decision = {"phase": phase, "decision": "ERROR", "counts": {}, "detail": f"no decision written: {exc}"}
    decision["exit"] = proc.returncode
    decision["duration_s"] = round(time.time() - started, 1)
    base = str(decision.get("evidence_file", "")).removesuffix(".evidence.json")
    if base:
        for key, suffix in (("html", ".html"), ("junit", ".xml"), ("evidence", ".evidence.json")):
            if (reports_dir() / f"{base}{suffix}").exists():
                decision[key] = f"{base}{suffix}"
    return decision


def _active_scenario_name() -> str | None:
    from nova_gate.sandbox import history

    active = history.active_scenario() or {}
    scenario = active.get("scenario") if isinstance(active.get("scenario"), dict) else {}
    return str(scenario.get("name")) if scenario and scenario.get("name") else None


def _load_scenario(name: str, force: bool) -> None:
    from nova_gate.sandbox import history

    if force or _active_scenario_name() != name:
        print(f"rehearsal: sandbox step: load scenario {name} (Prometheus history, then live)", flush=True)
        history.load(name, log=lambda msg: print(f"rehearsal:   {msg}", flush=True))
        _wait_for_scrapes()


def _wait_for_scrapes(timeout_s: float = 90) -> None:
    """After a reload Prometheus restarts: wait until every target has been scraped once (health
    "up"), so the first gate does not judge targets that are merely "unknown" yet."""
    from nova_gate.sandbox.base import SandboxError
    from nova_gate.sandbox.prometheus import api  # the sandbox's own admin identity, over TLS

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            targets = api("/api/v1/targets", timeout=5)["activeTargets"]
            if targets and all(t.get("health") == "up" for t in targets):
                return
        except (SandboxError, KeyError, TypeError):
            pass
        time.sleep(2)
    print("rehearsal:   Prometheus targets not all up yet; going on", flush=True)


def walk(w: Walk, keep_going: bool, number: int, of: int) -> bool:
    """Run one walk; write its index page; True when every phase decided as expected."""
    env = load_environment().env
    started = dt.datetime.now(dt.UTC)
    print(f"\nrehearsal: walk {number} of {of}: {w.name} ({w.title}); expected: {w.expected}", flush=True)
    # always reload: live knobs and earlier runs leave their traffic in the TSDB even when the
    # active scenario already has this name, so a walk starts from the scenario's own history
    _load_scenario(w.scenario, force=True)
    ok = True
    total = len(w.phases)
    for n, (phase, expected) in enumerate(w.phases, 1):
        title = PHASE_TITLES[phase]
        print(f"\nrehearsal [{w.name}] phase {n} of {total}: {phase} — {title} (expected {expected})", flush=True)
        steps: list[str] = []
        errors: list[str] = []

        def done(
            step: Step, seconds: float, exc: Exception | None, steps: list[str] = steps, errors: list[str] = errors
        ) -> None:
            steps.append(f"{step.name} ({seconds:.0f} s)")
            if exc is not None:  # the gate that follows judges the consequences
                errors.append(f"{step.name}: {exc}")
                print(f"rehearsal [{w.name}]   step failed: {exc}", file=sys.stderr, flush=True)

        def announce(step: Step) -> None:
            print(f"rehearsal [{w.name}]   step: {step.name}", flush=True)

        if phase in w.stages:
            advance_to(w.stages[phase], report=done, announce=announce)
        print(f"rehearsal [{w.name}]   gate: pytest -m {phase}", flush=True)
        decision = run_phase(phase)
        decision.update(phase=phase, expected=expected, steps=steps, step_errors=errors)
        w.results.append(decision)
        print(
            f"rehearsal [{w.name}] phase {n} of {total}: {phase} decided {decision['decision']} "
            f"(expected {expected}) in {decision['duration_s']:.0f} s",
            flush=True,
        )
        if decision["decision"] != expected:
            ok = False
            if not (keep_going or w.always_continue):
                break
    ok = ok and len(w.results) == len(w.phases)
    write_index(w, ok, started, env)
    return ok


def write_index(w: Walk, ok: bool, started: dt.datetime, env: Any) -> Path:
    from nova_gate.walk_index import render_index

    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    base = f"walk-{w.name}-{stamp}"
    doc = {
        "name": w.name,
        "title": w.title,
        "scenario": w.scenario,
        "expected": w.expected,
        "as_expected": ok,
        "version": env.release.version,
        "baseline_version": env.release.baseline_version,
        "environment": env.name,
        "operator": OPERATOR,
        "started": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "index_html": f"{base}.html",
        "phases": w.results,
    }
    out = reports_dir()
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{base}.json").write_text(json.dumps(doc, indent=2, default=str) + "\n")
    page = out / f"{base}.html"
    page.write_text(render_index(doc), encoding="utf-8")
    print(f"rehearsal: walk {w.name} {'ended as expected' if ok else 'did NOT end as expected'}; index {page}")
    return page


def _restore() -> None:
    """Back to the state the sandbox was in before: the release's start, the good scenario."""
    try:
        print("rehearsal: sandbox step: back to the release's start (old version only)", flush=True)
        advance_to(Stage.BASELINE)
        _load_scenario(GOOD_SCENARIO, force=True)
    except Exception as exc:
        print(f"rehearsal: restoring the sandbox failed: {exc}", file=sys.stderr)


def rehearse(keep_going: bool = False, walks: tuple[str, ...] = ("good-release", "bad-canary")) -> int:
    env = load_environment().env
    print(f"rehearsal: release {env.release.version} over {env.release.baseline_version} on {env.name}")
    _attest_human_items()
    chosen = [w for w in (good_walk(), bad_walk()) if w.name in walks]
    outcome: list[tuple[Walk, bool]] = []
    try:
        for i, w in enumerate(chosen, 1):
            outcome.append((w, walk(w, keep_going, i, len(chosen))))
    finally:
        _restore()
    print("\nrehearsal summary")
    for w, ok in outcome:
        print(f"walk {w.name}: {'as expected' if ok else 'NOT as expected'} ({w.expected})")
        for r in w.results:
            counts = r.get("counts")
            c: dict[str, Any] = counts if isinstance(counts, dict) else {}
            mark = "ok" if r["decision"] == r["expected"] else "UNEXPECTED"
            print(
                f"  {r['phase']:<15} {r['decision']:<9} expected {r['expected']:<9} {mark:<10} "
                f"pass={c.get('PASS')} warn={c.get('WARN')} fail={c.get('FAIL')} "
                f"inconclusive={c.get('INCONCLUSIVE')}"
            )
    return 0 if len(outcome) == len(chosen) and all(ok for _, ok in outcome) else 1
