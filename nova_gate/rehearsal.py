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


def _step(name: str) -> Callable[[], None] | None:
    """The sandbox action that precedes a phase's gate (what the release engineer would do)."""

    def migrations() -> None:
        from nova_gate.sandbox import postgres

        postgres.apply_release_migrations()

    steps: dict[str, Callable[[], None]] = {"migrations": migrations}
    return steps.get(name)


def run_phase(phase: str) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", phase, "-q", "--operator", OPERATOR, "-p", "no:randomly"],
        cwd=project_root(), check=False,
    )
    decision = json.loads((project_root() / "reports" / "decision.json").read_text())
    decision["exit"] = proc.returncode
    return decision


def rehearse(keep_going: bool = False) -> int:
    env = load_environment().env
    print(f"rehearsal: release {env.release.version} over {env.release.baseline_version} on {env.name}")
    _attest_human_items()
    summary = []
    for phase in PHASES:
        step = _step(phase)
        if step is not None:
            print(f"rehearsal: sandbox step before {phase}")
            try:
                step()
            except Exception as exc:  # the gate that follows will judge the consequences
                print(f"rehearsal: step before {phase} failed: {exc}", file=sys.stderr)
        decision = run_phase(phase)
        summary.append((phase, decision["decision"], decision["counts"]))
        if decision["decision"] != "PROCEED" and not keep_going:
            break
    print("\nrehearsal summary")
    for phase, verdict, counts in summary:
        c = counts if isinstance(counts, dict) else {}
        print(f"  {phase:<15} {verdict:<9} pass={c.get('PASS')} warn={c.get('WARN')} "
              f"fail={c.get('FAIL')} inconclusive={c.get('INCONCLUSIVE')}")
    return 0 if all(v == "PROCEED" for _, v, _ in summary) and len(summary) == len(PHASES) else 1
