"""Benchmark: every phase's gate on both sandbox profiles side by side, each against its floor.

    python bench/phases.py [PHASE ...] [--runs 3] [--profiles default,scaled] [--json FILE] [--md FILE]
                           [--blackhole] [--xdist] [-- PYTEST_ARGS ...]

For every profile (``default``: environments/sandbox.yaml, 11 services; ``scaled``:
environments/sandbox-scaled.yaml, 110 services, see ``nova-gate sandbox scaled up``) and every phase,
in one run and interleaved (so a busy moment of the shared machine hits both alike):

- the **floor**: pytest's start and the collection of that phase only (``--collect-only -m PHASE``);
- the **gate**: the same selection run for real, its record in a temporary directory;

each ``--runs`` times (median reported). Per gate: wall time, the ratio to its floor, backend calls per
backend (the plugin counts every source call per test into ``evidence.json``), peak RSS of the pytest
process (``ru_maxrss``; with ``-n`` the largest worker too), and for the scaled profile the ratios
scaled/default of wall time and calls. ``--xdist`` adds one ``-n 2`` run per phase and profile.
``--blackhole`` adds bench/blackhole.py's timing (every backend black-holed) per phase and profile.
Prints a Markdown table; ``--json``/``--md`` also write them to files. Speed is measured here,
never asserted in a timed test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nova_gate.catalog import PHASES  # noqa: E402
from nova_gate.testing import run_gate  # noqa: E402

PROFILES = {"default": "sandbox", "scaled": str(ROOT / "environments" / "sandbox-scaled.yaml")}

# pytest in a child that reports its own peak RSS and its children's (ru_maxrss, KiB on Linux)
_RUNNER = (
    "import resource, sys, pytest\n"
    "rc = pytest.main(sys.argv[1:])\n"
    "own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "print('NOVA_MAXRSS', own, kids, file=sys.stderr)\n"
    "sys.exit(int(rc))\n"
)


def _pytest(args: list[str], timeout: float = 900) -> tuple[float, int, int, int, str]:
    """Run pytest in a fresh interpreter: wall seconds, exit code, own and children's peak RSS (KiB)."""
    env = {"PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    started = time.perf_counter()
    proc = run_gate(*args, root=ROOT, timeout=timeout, env=env, launcher=("-c", _RUNNER))
    wall = time.perf_counter() - started
    own = kids = 0
    for line in proc.stderr.splitlines():
        if line.startswith("NOVA_MAXRSS "):
            _, a, b = line.split()
            own, kids = int(a), int(b)
    return wall, proc.returncode, own, kids, proc.stdout[-2000:]


def floor(phase: str, env: str, extra: list[str]) -> float:
    wall, *_ = _pytest(["--collect-only", "-m", phase, f"--env={env}", *extra])
    return wall


def gate(phase: str, env: str, extra: list[str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        wall, rc, own, kids, _ = _pytest(["-m", phase, f"--env={env}", f"--reports-dir={tmp}", *extra])
        evidence = Path(tmp) / "evidence.json"
        data = json.loads(evidence.read_text()) if evidence.exists() else {}
    calls: dict[str, int] = data.get("backend_calls", {})
    return {
        "wall_s": wall,
        "exit": rc,
        "tests": len(data.get("tests", [])),
        "backend_calls": dict(sorted(calls.items())),
        "calls_total": sum(calls.values()),
        "peak_rss_mib": own / 1024,
        "workers_peak_rss_mib": kids / 1024,
        "decision": data.get("decision", {}).get("decision", f"exit {rc}"),
    }


def measure(phase: str, env: str, runs: int, extra: list[str], xdist: bool) -> dict[str, Any]:
    floors, gates = [], []
    for _ in range(runs):
        floors.append(floor(phase, env, extra))
        gates.append(gate(phase, env, extra))
    walls = [g["wall_s"] for g in gates]
    median_floor, median_wall = statistics.median(floors), statistics.median(walls)
    last = gates[-1]
    result: dict[str, Any] = {
        "phase": phase,
        "runs": runs,
        "floor_s": round(median_floor, 2),
        "wall_s": round(median_wall, 2),
        "wall_runs_s": [round(w, 2) for w in walls],
        "ratio_to_floor": round(median_wall / median_floor, 2) if median_floor else None,
        "tests": last["tests"],
        "backend_calls": last["backend_calls"],
        "calls_total": last["calls_total"],
        # calls must not vary between runs of the same state; say so when they do
        "calls_runs": [g["calls_total"] for g in gates],
        "peak_rss_mib": round(max(g["peak_rss_mib"] for g in gates), 1),
        "decision": last["decision"],
    }
    if xdist:
        par = gate(phase, env, ["-n", "2", *extra])
        result["xdist2"] = {
            "wall_s": round(par["wall_s"], 2),
            "calls_total": par["calls_total"],
            "backend_calls": par["backend_calls"],
            "peak_rss_mib": round(par["peak_rss_mib"], 1),
            "workers_peak_rss_mib": round(par["workers_peak_rss_mib"], 1),
            "decision": par["decision"],
        }
    return result


def blackhole(phases: list[str], profile: str = "default") -> dict[str, dict[str, Any]]:
    """bench/blackhole.py's run per phase with every backend of ``profile`` black-holed: wall time,
    decision, backend items that passed (must be none), the slowest test."""
    from bench import blackhole as bh
    from nova_gate.sandbox.faultproxy import FaultedEnvironment
    from nova_gate.testing import sandbox_document

    doc = sandbox_document(ROOT, Path(PROFILES[profile]).name if profile != "default" else "sandbox.yaml")
    doc["backends"]["postgres"].pop("backup_catalog", None)  # PRE-DB-4 then asks PostgreSQL itself
    out: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as work, FaultedEnvironment(doc, "blackhole", work) as faulted:
        env_file = faulted.write()
        for phase in phases:
            r = bh.run_phase(phase, env_file, [])
            out[phase] = r
            print(
                f"{profile:<8} {phase:<15} black-holed: {r['wall_s']}s {r['decision']} "
                f"passing backend items {r['backend_items_passing']} slowest {r['slowest']}"
                + ("  TRACEBACK" if r["traceback"] else ""),
                file=sys.stderr,
                flush=True,
            )
    return out


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a is not None and b else "—"


def markdown(results: dict[str, dict[str, dict[str, Any]]], black: dict[str, dict[str, dict[str, Any]]]) -> str:
    """One row per phase: both profiles' floor, wall, ratio, calls and RSS, and scaled/default."""
    phases = list(next(iter(results.values())).keys()) if results else []
    have_scaled = "scaled" in results
    have_xdist = any("xdist2" in r for prof in results.values() for r in prof.values())
    head = ["phase", "tests", "floor s", "wall s", "x floor", "calls", "peak MiB"]
    cols = ["phase", *(f"default {h}" for h in head[1:])]
    if have_scaled:
        cols += [f"scaled {h}" for h in head[1:]] + ["wall scaled/default", "calls scaled/default"]
    if have_xdist:
        cols += ["default -n 2 s"] + (["scaled -n 2 s"] if have_scaled else [])
    cols += [f"{p} black-hole s" for p in black]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]

    def cells(r: dict[str, Any] | None) -> list[str]:
        if not r:
            return ["—"] * 6
        return [
            str(r["tests"]),
            f"{r['floor_s']:.2f}",
            f"{r['wall_s']:.2f}",
            f"{r['ratio_to_floor']:.2f}" if r["ratio_to_floor"] else "—",
            str(r["calls_total"]),
            f"{r['peak_rss_mib']:.0f}",
        ]

    for phase in phases:
        d = results.get("default", {}).get(phase)
        s = results.get("scaled", {}).get(phase) if have_scaled else None
        row = [phase, *cells(d)]
        if have_scaled:
            row += cells(s)
            row += [
                _ratio(s and s["wall_s"], d and d["wall_s"]),
                _ratio(s and s["calls_total"], d and d["calls_total"]),
            ]
        if have_xdist:
            row.append(f"{d['xdist2']['wall_s']:.2f}" if d and "xdist2" in d else "—")
            if have_scaled:
                row.append(f"{s['xdist2']['wall_s']:.2f}" if s and "xdist2" in s else "—")
        for by_phase in black.values():
            b = by_phase.get(phase)
            row.append(f"{b['wall_s']:.1f} {b['decision']}" if b else "—")
        lines.append("| " + " | ".join(row) + " |")
    calls = ["", "Backend calls per backend (default → scaled):", ""]
    for phase in phases:
        d = results.get("default", {}).get(phase) or {}
        s = results.get("scaled", {}).get(phase) or {}
        backends = sorted(set(d.get("backend_calls", {})) | set(s.get("backend_calls", {})))
        parts = [
            f"{b} {d.get('backend_calls', {}).get(b, 0)}"
            + (f"→{s.get('backend_calls', {}).get(b, 0)}" if have_scaled else "")
            for b in backends
        ]
        calls.append(f"- {phase}: " + (", ".join(parts) or "none"))
    return "\n".join(lines + calls) + "\n"


def main(argv: list[str]) -> int:
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1 :]
    else:
        extra = []
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("phases", nargs="*", help="phases (default: all)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--profiles", default="default,scaled")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--md", type=Path)
    ap.add_argument("--blackhole", action="store_true")
    ap.add_argument("--xdist", action="store_true", help="also one -n 2 run per phase and profile")
    args = ap.parse_args(argv)
    unknown = [p for p in args.phases if p not in PHASES]
    if unknown:
        print(f"phases: unknown {unknown} (known: {', '.join(PHASES)})", file=sys.stderr)
        return 2
    phases = args.phases or list(PHASES)
    profiles = [p.strip() for p in args.profiles.split(",") if p.strip()]
    if "scaled" in profiles and not Path(PROFILES["scaled"]).is_file():
        print("scaled: environments/sandbox-scaled.yaml missing; measuring the default profile only", file=sys.stderr)
        profiles.remove("scaled")
    results: dict[str, dict[str, dict[str, Any]]] = {p: {} for p in profiles}
    started = time.perf_counter()
    for phase in phases:
        for profile in profiles:
            r = measure(phase, PROFILES[profile], args.runs, extra, args.xdist)
            results[profile][phase] = r
            print(
                f"{profile:<8} {phase:<15} floor {r['floor_s']:>5.2f}s  wall {r['wall_s']:>6.2f}s "
                f"({r['ratio_to_floor']}x)  calls {r['calls_total']:>4} {json.dumps(r['backend_calls'])}  "
                f"{r['peak_rss_mib']} MiB  {r['decision']}"
                + (f"  -n 2: {r['xdist2']['wall_s']}s" if "xdist2" in r else ""),
                file=sys.stderr,
                flush=True,
            )
    black: dict[str, dict[str, dict[str, Any]]] = {}

    def write() -> str:
        table = markdown(results, black)
        doc = {
            "runs": args.runs,
            "profiles": {p: PROFILES[p] for p in profiles},
            "extra_pytest_args": extra,
            "seconds": round(time.perf_counter() - started, 1),
            "load_average": os.getloadavg(),
            "results": results,
            "blackhole": black,
        }
        if args.json:
            args.json.write_text(json.dumps(doc, indent=2) + "\n")
        if args.md:
            args.md.write_text(table)
        return table

    write()  # the gates' figures are kept even if a black-hole run fails
    if args.blackhole:
        for profile in profiles:
            black[profile] = blackhole(phases, profile)
            write()
    print(write())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
