"""Walk a whole release against the sandbox: each phase's sandbox step, then its gate.

This is the main job of the README: every phase in checklist order, each leaving its audit
record in reports/. Human items are attested by the sandbox operator, as a person would.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

from nova_gate.catalog import PHASES, load_catalog
from nova_gate.config import load_environment, project_root

OPERATOR = "sandbox-rehearsal"


def _attest_human_items() -> None:
    from nova_gate.cli import main as cli

    for item in load_catalog():
        if item.verification == "attestation":
            cli(["attest", item.id, "--by", OPERATOR, "--note", "rehearsal on the sandbox"])


def _kube(step: str) -> Callable[[], None]:
    """A Kubernetes release step of the sandbox, when this checkout has the control plane."""

    def run() -> None:
        from nova_gate.sandbox import manager

        if "kubernetes" not in manager.available():
            raise RuntimeError("the sandbox has no Kubernetes component in this checkout")
        import importlib

        getattr(importlib.import_module("nova_gate.sandbox.kubernetes"), step)()

    return run


def _migrate() -> None:
    from nova_gate.sandbox import postgres

    postgres.apply_release_migrations()


def _revert() -> None:
    from nova_gate.sandbox import postgres

    postgres.revert_release_migrations()


# What the release engineer does before each phase's gate (the checklist's commands).
STEPS: dict[str, list[Callable[[], None]]] = {
    "migrations": [_migrate],
    "canary_gate": [_kube("canary")],
    "scale_gate": [_kube("scale_half")],
    "rollout": [_kube("rollout"), _kube("drain_old")],
    "rollback": [_kube("rollback"), _revert],
}
# The rollback phase is a drill after the T+24h review, then the sandbox is back at its start.
ORDER = [p for p in PHASES if p != "rollback"] + ["rollback"]


def run_phase(phase: str) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", phase, "-q", "--operator", OPERATOR, "-p", "no:randomly"],
        cwd=project_root(),
        check=False,
    )
    decision: dict[str, object] = json.loads((project_root() / "reports" / "decision.json").read_text())
    decision["exit"] = proc.returncode
    return decision


def rehearse(keep_going: bool = False) -> int:
    env = load_environment().env
    print(f"rehearsal: release {env.release.version} over {env.release.baseline_version} on {env.name}")
    _attest_human_items()
    summary = []
    for phase in ORDER:
        for step in STEPS.get(phase, []):
            print(f"rehearsal: sandbox step before {phase}: {getattr(step, '__name__', step)}")
            try:
                step()
            except Exception as exc:  # the gate that follows judges the consequences
                print(f"rehearsal: step before {phase} failed: {exc}", file=sys.stderr)
        decision = run_phase(phase)
        summary.append((phase, decision["decision"], decision["counts"]))
        if decision["decision"] != "PROCEED" and not keep_going:
            break
    print("\nrehearsal summary")
    for phase, verdict, counts in summary:
        c = counts if isinstance(counts, dict) else {}
        print(
            f"  {phase:<15} {verdict:<9} pass={c.get('PASS')} warn={c.get('WARN')} "
            f"fail={c.get('FAIL')} inconclusive={c.get('INCONCLUSIVE')}"
        )
    return 0 if all(v == "PROCEED" for _, v, _ in summary) and len(summary) == len(ORDER) else 1
