"""Benchmark: every phase's gate with every backend black-holed (accepts, never answers).

    python bench/blackhole.py [--mode=blackhole|refused|slow|...] [PHASE ...]

Every endpoint of the sandbox environment is put behind a local fault proxy
(nova_gate/sandbox/faultproxy.py); each phase runs in a fresh pytest process. Prints per phase the
wall time, the decision, how many items passed (must be 0 for items that need a backend) and the
slowest test. Target: <= 30 s per phase on the 2-core machine. Measured here, never asserted.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nova_gate.catalog import PHASES, load_catalog  # noqa: E402
from nova_gate.sandbox.faultproxy import FaultedEnvironment  # noqa: E402
from nova_gate.testing import run_gate, sandbox_document  # noqa: E402


def run_phase(phase: str, env_file: Path, extra: list[str]) -> dict[str, object]:
    catalog = load_catalog()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        proc = run_gate("-m", phase, *extra, root=ROOT, env_file=env_file, reports=tmp, timeout=900)
        wall = time.perf_counter() - started
        evidence = Path(tmp) / "evidence.json"
        data = json.loads(evidence.read_text()) if evidence.exists() else {}
    items = data.get("decision", {}).get("items", {})
    backed = {i for i in items if catalog[i].backends}
    passed = sorted(i for i, v in items.items() if v in ("PASS", "WARN") and i in backed)
    tests = data.get("tests", [])
    slowest = max(tests, key=lambda t: t.get("duration", 0), default={})
    return {
        "phase": phase,
        "wall_s": round(wall, 1),
        "tests": len(tests),
        "decision": data.get("decision", {}).get("decision", f"exit {proc.returncode}"),
        "backend_items_passing": passed,
        "slowest": f"{slowest.get('nodeid', '-').split('::')[-1]} {slowest.get('duration', 0)}s",
        "traceback": "Traceback" in proc.stdout + proc.stderr,
    }


def main(argv: list[str]) -> int:
    mode = next((a.split("=", 1)[1] for a in argv if a.startswith("--mode=")), "blackhole")
    extra = [a for a in argv if a.startswith("--") and not a.startswith("--mode=")]
    phases = [a for a in argv if not a.startswith("--")] or list(PHASES)
    print(f"every backend: {mode}")
    print(f"{'phase':<15} {'wall s':>7} {'tests':>6}  {'decision':<9} passing-backend-items  slowest test")
    worst = 0.0
    doc = sandbox_document(ROOT)
    doc["backends"]["postgres"].pop("backup_catalog", None)  # PRE-DB-4 then asks PostgreSQL itself
    with tempfile.TemporaryDirectory() as work, FaultedEnvironment(doc, mode, work) as faulted:
        env_file = faulted.write()
        for phase in phases:
            r = run_phase(phase, env_file, extra)
            worst = max(worst, float(r["wall_s"]))  # type: ignore[arg-type]
            print(
                f"{r['phase']:<15} {r['wall_s']:>7} {r['tests']:>6}  {r['decision']:<9} "
                f"{len(r['backend_items_passing'])} {r['backend_items_passing'] or ''}  {r['slowest']}"
                + ("  TRACEBACK" if r["traceback"] else "")
            )
    print(f"slowest phase: {worst:.1f} s (target <= 30 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
