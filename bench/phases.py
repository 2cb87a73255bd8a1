"""Benchmark: per phase, the wall time, backend calls and peak memory of a gate run.

    python bench/phases.py [--env=NAME] [PHASE ...]

Runs each phase's gate in a fresh pytest process against the environment (default: sandbox) with
its reports in a temporary directory, and prints one line per phase. Speed is measured here, never
asserted in a timed test.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nova_gate.catalog import PHASES  # noqa: E402

# pytest in a child that reports its own peak RSS (ru_maxrss of the process itself, KiB on Linux)
_RUNNER = (
    "import resource, sys, pytest\n"
    "rc = pytest.main(sys.argv[1:])\n"
    "print('NOVA_MAXRSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(rc)\n"
)


def run_phase(phase: str, extra: list[str]) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", _RUNNER, "-q", "-m", phase, f"--reports-dir={tmp}", *extra],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - started
        peak_kib = next(
            (int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("NOVA_MAXRSS ")), 0
        )
        evidence = Path(tmp) / "evidence.json"
        data = json.loads(evidence.read_text()) if evidence.exists() else {}
    calls = data.get("backend_calls", {})
    return {
        "phase": phase,
        "wall_s": round(wall, 2),
        "tests": len(data.get("tests", [])),
        "backend_calls": calls,
        "calls_total": sum(calls.values()),
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "decision": data.get("decision", {}).get("decision", f"exit {proc.returncode}"),
    }


def main(argv: list[str]) -> int:
    extra = [a for a in argv if a.startswith("--")]
    phases = [a for a in argv if not a.startswith("--")] or list(PHASES)
    print(f"{'phase':<15} {'wall s':>7} {'tests':>6} {'calls':>6} {'peak MiB':>9}  decision  calls by backend")
    for phase in phases:
        r = run_phase(phase, extra)
        print(
            f"{r['phase']:<15} {r['wall_s']:>7} {r['tests']:>6} {r['calls_total']:>6} {r['peak_rss_mib']:>9}  "
            f"{r['decision']:<9} {json.dumps(r['backend_calls'])}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
