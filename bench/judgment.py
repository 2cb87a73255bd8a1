"""Detection benchmark of the metric gates on synthetic noisy traffic (no servers).

    python bench/judgment.py [--trials 1000] [--seed 7] [--json reports/judgment.json] [--rules CAN-3,...]

Per cell (rule x traffic x true effect): 1000+ trials of Poisson request counts per 15-s scrape, errors
drawn per request (binomial), latencies from a log-normal into the simulator's real histogram buckets;
each trial judged three ways on the same data:

* ``new``  -- the count rules the gates use (nova_gate/rules/counts.py, called vectorised);
* ``prom`` -- the reference reading: Prometheus ``for: 5m`` over the 5-minute rate (``rate(...[5m])``);
* ``old``  -- the rule before issue 10 (bench/legacy_rules.py: 1-minute error rate, any sample at or
  below the limit restarts the 5-minute clock).

Reported: ROLLBACK (breach found), INCONCLUSIVE (new rule only: cannot tell; it blocks too), the
false-ROLLBACK rate is the ROLLBACK rate of the cells whose truth is "no sustained breach" (0.5x, the
spike), and the median time from the breach's start to the decision (watch mode: to its early stop).
Time is the last D minutes of the gate's window (the canary 15 min, the 50 % stage 30 min); before it the
truth is 0.3x the limit.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import legacy_rules
from nova_gate.rules import counts as C
from nova_gate.rules.metrics import CountRules
from nova_gate.sandbox.sim_model import BUCKETS
from nova_gate.watch import anytime_breach

STEP = 15.0
W = 20  # 5-minute window in steps
SUSTAIN = 20
BOUNDS = np.asarray(BUCKETS, dtype=float)
SIGMA = 0.5  # log-normal shape of latencies
Z95 = 1.6448536269514722


@dataclass(frozen=True)
class Cell:
    rule: str
    rps: float
    effect: float  # multiple of the limit during the breach
    minutes: float | None  # breach length at the end of the window; None = the whole window
    spike: bool = False

    @property
    def name(self) -> str:
        if self.spike:
            return "spike 2m 2x on 0.3x"
        if self.minutes is None:
            return f"{self.effect:g}x whole window"
        return f"{self.effect:g}x last {self.minutes:g}m"

    @property
    def breach(self) -> bool:
        """Truth: is there a breach sustained for 5 minutes (in the checklist's sense)?"""
        return not self.spike and self.effect > 1 and (self.minutes is None or self.minutes >= 5)


GATE_STEPS = {"CAN-3": 60, "CAN-4": 60, "SCL-2": 120, "SCL-3": 120}
#: the gates' own defaults (nova_gate/rules/metrics.py CountRules): the bench judges with them
RULES = CountRules()
#: the new-vs-old rules as the scale gate runs them: SCL-2 and SCL-3 for 11 services share its budget
RELATIVE = CountRules(family=2 * 11)


def _profile(cell: Cell, steps: int) -> np.ndarray:
    """Effect (multiple of the limit) at each scrape increment, W steps of history before the window."""
    total = steps + W
    t = np.arange(total) - total + 1  # 0 = the last step
    if cell.spike:
        inside = (t > -40 - 8) & (t <= -40)  # 2 minutes, ending 10 minutes before the end
        return np.where(inside, 2.0, 0.3)
    if cell.minutes is None:
        return np.full(total, cell.effect)
    inside = t > -round(cell.minutes * 60 / STEP)
    return np.where(inside, cell.effect, 0.3)


def _lognormal_cdf(x: np.ndarray, p95_s: float) -> np.ndarray:
    from scipy.stats import norm

    mu = np.log(p95_s) - Z95 * SIGMA
    return np.asarray(norm.cdf((np.log(x) - mu) / SIGMA))


def _bucket_draw(rng: np.random.Generator, n: np.ndarray, p95_s: np.ndarray) -> np.ndarray:
    """Cumulative bucket increments (T, S, B+1) for request counts n (T, S) with a P95 per step (S,)."""
    out = np.zeros((*n.shape, len(BOUNDS) + 1))
    for value in np.unique(p95_s):
        cdf = _lognormal_cdf(BOUNDS, float(value))
        probs = np.diff(np.concatenate([[0.0], cdf, [1.0]]))
        cols = p95_s == value
        draws = rng.multinomial(n[:, cols], probs)
        out[:, cols, :] = np.cumsum(draws, axis=-1)
    return out


def _windows(inc: np.ndarray) -> np.ndarray:
    """Sliding W-step sums along axis 1 of per-step increments (drops the W-1 warm-up steps)."""
    c = np.cumsum(inc, axis=1)
    pad = np.zeros_like(c[:, :1])
    c = np.concatenate([pad, c], axis=1)
    return c[:, W:] - c[:, :-W]


def simulate(cell: Cell, trials: int, rng: np.random.Generator) -> dict[str, Any]:
    steps = GATE_STEPS[cell.rule]
    level = RULES.breach_alpha(steps * STEP)
    prof = _profile(cell, steps)
    total = len(prof)
    lam = cell.rps * STEP
    n_new = rng.poisson(lam, size=(trials, total)).astype(float)
    if cell.rule == "CAN-3":
        e = rng.binomial(n_new.astype(np.int64), np.minimum(prof * 0.01, 1.0)).astype(float)
        counts = (_windows(e)[:, -steps:], _windows(n_new)[:, -steps:])
        tests = C.excess_tests(0.01, RULES.alpha, False, level)
        one_min = (legacy_rules.window_sum(e, 4)[:, -steps:], legacy_rules.window_sum(n_new, 4)[:, -steps:])
        five = counts
        prom = legacy_rules.for_5m(five[0] > 0.01 * five[1], SUSTAIN)
        old = legacy_rules.for_5m(one_min[0] > 0.01 * one_min[1], SUSTAIN)
        watch_counts = (e[:, -steps:], n_new[:, -steps:])
    elif cell.rule == "CAN-4":
        cum = _bucket_draw(rng, n_new.astype(np.int64), prof * 0.5)
        wcum = _windows(cum)[:, -steps:]
        slow = C.slow_counts(wcum, BOUNDS, 0.5)
        counts = (slow, wcum[..., -1])
        tests = C.excess_tests(0.05, RULES.alpha, False, level)
        p95 = C.histogram_quantile(0.95, wcum, BOUNDS)
        prom = legacy_rules.for_5m(np.nan_to_num(p95, nan=0.0) > 0.5, SUSTAIN)
        old = prom  # the old rule was already the 5-minute quantile sustained 5 minutes
        step_slow = C.slow_counts(cum[:, -steps:], BOUNDS, 0.5)
        watch_counts = (step_slow, cum[:, -steps:, -1])
    elif cell.rule == "SCL-2":
        old_p = 0.005
        n_old = rng.poisson(lam, size=(trials, total)).astype(float)
        e1 = rng.binomial(n_new.astype(np.int64), np.minimum(prof * 2 * old_p, 1.0)).astype(float)
        e0 = rng.binomial(n_old.astype(np.int64), old_p).astype(float)
        counts = tuple(_windows(a)[:, -steps:] for a in (e1, n_new, e0, n_old))
        tests = C.ratio_tests(2.0, 0.001, RULES.alpha, RELATIVE.relative_alpha(steps * STEP, RULES.alpha_ratio))
        w1, wn1, w0, wn0 = counts
        with np.errstate(divide="ignore", invalid="ignore"):
            r = (w1 / wn1) / np.maximum(w0 / wn0, 0.001)
        prom = legacy_rules.for_5m(np.nan_to_num(r) > 2.0, SUSTAIN)
        old = prom
        watch_counts = None
    else:  # SCL-3
        old_p95 = 0.2
        n_old = rng.poisson(lam, size=(trials, total)).astype(float)
        cum1 = _bucket_draw(rng, n_new.astype(np.int64), prof * 1.5 * old_p95)
        cum0 = _bucket_draw(rng, n_old.astype(np.int64), np.full(total, old_p95))
        counts = (_windows(cum1)[:, -steps:], _windows(cum0)[:, -steps:])
        tests = C.latency_ratio_tests(0.95, 1.5, 0.05, RULES.alpha, BOUNDS, RELATIVE.relative_alpha(steps * STEP))
        q1 = C.histogram_quantile(0.95, counts[0], BOUNDS)
        q0 = C.histogram_quantile(0.95, counts[1], BOUNDS)
        prom = legacy_rules.for_5m(np.nan_to_num(q1) > 1.5 * np.maximum(np.nan_to_num(q0, nan=np.inf), 0.05), SUSTAIN)
        old = prom
        watch_counts = None
    missing = np.zeros((trials, steps), dtype=bool)
    label, first = C.decide(counts, missing, tests, W, SUSTAIN, RULES.max_gap_scrapes)
    onset = steps - 1 - round((cell.minutes or steps * STEP / 60) * 60 / STEP) if not cell.spike else steps - 48
    out: dict[str, Any] = {
        "new": _rates(label == 2, label == 1, first, onset),
        "prom": _rates(prom >= 0, None, prom, onset),
        "old": _rates(old >= 0, None, old, onset),
    }
    if watch_counts is not None:
        limit = 0.01 if cell.rule == "CAN-3" else 0.05
        stop = anytime_breach(watch_counts[0], watch_counts[1], limit, W, SUSTAIN)
        out["watch"] = _rates(stop >= 0, None, stop, onset)
        in_time = (stop >= 0) & ((stop - max(onset, 0)) * STEP <= SUSTAIN * STEP + 120)
        out["watch"]["within_sustain_plus_2m"] = float(in_time.mean())
    return out


def _rates(rollback: np.ndarray, unsure: np.ndarray | None, first: np.ndarray, onset: int) -> dict[str, Any]:
    delays = (first[rollback] - max(onset, 0)) * STEP / 60.0
    return {
        "rollback": float(rollback.mean()),
        "inconclusive": None if unsure is None else float(unsure.mean()),
        "median_min": None if not rollback.any() else round(float(np.median(delays)), 2),
    }


def cells(rules: list[str]) -> list[Cell]:
    out: list[Cell] = []
    for rule in rules:
        for rps in (1.0, 7.0, 50.0):
            out.append(Cell(rule, rps, 0.5, None))
            for effect in (1.0, 1.5, 3.0):
                for minutes in (6.0, 10.0, 12.0):
                    out.append(Cell(rule, rps, effect, minutes))
            out.append(Cell(rule, rps, 2.0, 2.0, spike=True))
    return out


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def table(results: list[dict[str, Any]]) -> str:
    head = (
        "| rule | req/s | truth | new ROLLBACK | new INCONCL. | new median min | Prometheus for:5m | "
        "old rule | watch ROLLBACK | watch median min | watch <= 7 min |\n|---|---|---|---|---|---|---|---|---|---|---|"
    )
    rows = [head]
    for r in results:
        new, prom, old, watch = r["new"], r["prom"], r["old"], r.get("watch")
        rows.append(
            f"| {r['rule']} | {r['rps']:g} | {r['cell']} | {_pct(new['rollback'])} | {_pct(new['inconclusive'])} | "
            f"{new['median_min'] if new['median_min'] is not None else '—'} | {_pct(prom['rollback'])} | "
            f"{_pct(old['rollback'])} | {_pct(watch['rollback']) if watch else '—'} | "
            f"{(watch['median_min'] if watch['median_min'] is not None else '—') if watch else '—'} | "
            f"{_pct(watch['within_sustain_plus_2m']) if watch else '—'} |"
        )
    return "\n".join(rows)


# -- family-wise: a whole healthy walk ------------------------------------------------------------------
HEALTHY = Path(__file__).resolve().parent.parent / "sandbox" / "scenarios" / "good-release.yaml"
SERVICES = 11


def _healthy_params() -> dict[str, dict[str, float]]:
    import yaml

    raw = yaml.safe_load(HEALTHY.read_text())
    return {v: dict(p) for v, p in raw["defaults"].items() if v != "kafka"}


def _sim_draw(
    rng: np.random.Generator, rows: int, steps: int, p: dict[str, float], buckets: bool
) -> tuple[np.ndarray, ...]:
    """Per-step requests, errors and latency counts of one version, the simulator's way: all buckets
    (cumulative) when ``buckets``, else only the requests slower than 500 ms and 1 s (bucket bounds)."""
    from nova_gate.sandbox.sim_model import BUCKETS as SIM_BUCKETS
    from nova_gate.sandbox.sim_model import latency_cdf

    n = rng.poisson(p["rps"] * STEP, size=(rows, steps))
    e = rng.binomial(n, p["error_pct"] / 100.0).astype(float)
    fractions, _ = latency_cdf(p["p50_ms"], p["p95_ms"], p["p99_ms"])
    if buckets:
        probs = np.diff(np.concatenate([[0.0], np.asarray(fractions), [1.0]]))
        return n.astype(float), e, np.cumsum(rng.multinomial(n, probs), axis=-1).astype(float)
    over_half = 1.0 - fractions[SIM_BUCKETS.index(0.5)]
    over_one = 1.0 - fractions[SIM_BUCKETS.index(1.0)]
    slow500 = rng.binomial(n, over_half)
    slow1000 = rng.binomial(slow500, over_one / over_half if over_half > 0 else 0.0)
    return n.astype(float), e, slow500.astype(float), slow1000.astype(float)


def _error_ratio_tests(t: Any, level: float) -> Any:
    """SCL-2's tests (new vs old error ratio) at the relative level ``level``."""
    return C.ratio_tests(t.error_ratio_vs_old, t.error_rate_floor_pct / 100, RULES.alpha, level)


def _latency_ratio_tests(t: Any, level: float) -> Any:
    """SCL-3's tests (new vs old p95 ratio) at the relative level ``level``."""
    return C.latency_ratio_tests(0.95, t.latency_ratio_vs_old, t.latency_floor_ms / 1000, RULES.alpha, BOUNDS, level)


def healthy_walk(trials: int, rng: np.random.Generator) -> dict[str, Any]:
    """False ROLLBACKs of a whole healthy walk: every count-judged cell of every gate, 11 services each.

    Traffic is the healthy scenario's (sandbox/scenarios/good-release.yaml: new and old version rates,
    error ratios and latency percentiles), drawn per 15-s scrape like the simulator; each cell is judged
    by the gates' rule with the gates' levels (relative cells with their family share). A trial is one
    walk; it falsely rolls back when any cell of any gate FAILs."""
    from nova_gate.config import Thresholds

    t = Thresholds()
    params = _healthy_params()
    new, old = params["v1.0.0"], params["v0.9.0"]
    rows = trials * SERVICES
    cells: dict[str, np.ndarray] = {}
    gates = {"canary_gate": t.canary_window_min, "scale_gate": t.scale_window_min}
    gates["stability_gate"] = t.stability_window_min
    for gate, minutes in gates.items():
        steps = round(minutes * 60 / STEP) + 1
        total = steps + W
        scale = gate == "scale_gate"
        drawn = _sim_draw(rng, rows, total, new, buckets=scale)
        n1, e1 = drawn[0], drawn[1]
        win = {k: _windows(a)[:, -steps:] for k, a in (("n1", n1), ("e1", e1))}
        if scale:
            wc1 = _windows(drawn[2])[:, -steps:]
            slow500, slow1000 = C.slow_counts(wc1, BOUNDS, t.p95_ms / 1000), C.slow_counts(wc1, BOUNDS, t.p99_ms / 1000)
        else:
            slow500, slow1000 = _windows(drawn[2])[:, -steps:], _windows(drawn[3])[:, -steps:]
        missing = np.zeros((rows, steps), dtype=bool)
        level = RULES.breach_alpha(minutes * 60)
        inclusive = gate == "stability_gate"
        err_limit = (t.stability_error_rate_pct if inclusive else t.error_rate_pct) / 100.0
        judged: dict[str, tuple[Any, Any]] = {
            "error": ((win["e1"], win["n1"]), C.excess_tests(err_limit, RULES.alpha, inclusive, level)),
            "p95": ((slow500, win["n1"]), C.excess_tests(0.05, RULES.alpha, inclusive, level)),
        }
        if gate == "canary_gate":
            judged["p99"] = ((slow1000, win["n1"]), C.excess_tests(0.01, RULES.alpha, False, level))
        if gate == "scale_gate":
            n0, e0, c0 = _sim_draw(rng, rows, total, old, buckets=True)
            wn0, we0, wc0 = _windows(n0)[:, -steps:], _windows(e0)[:, -steps:], _windows(c0)[:, -steps:]
            ratio_level = RELATIVE.relative_alpha(minutes * 60, RULES.alpha_ratio)
            judged["SCL-2"] = ((win["e1"], win["n1"], we0, wn0), _error_ratio_tests(t, ratio_level))
            judged["SCL-3"] = ((wc1, wc0), _latency_ratio_tests(t, RELATIVE.relative_alpha(minutes * 60)))
            # the same cells at the levels before the family budget (alpha_ratio, alpha_breach)
            judged["SCL-2 before"] = (judged["SCL-2"][0], _error_ratio_tests(t, RULES.alpha_ratio))
            judged["SCL-3 before"] = (judged["SCL-3"][0], _latency_ratio_tests(t, RULES.breach_alpha(minutes * 60)))
        for name, (counts, tests) in judged.items():
            label, _ = C.decide(counts, missing, tests, W, SUSTAIN, RULES.max_gap_scrapes)
            cells[f"{gate} {name}"] = (label == 2).reshape(trials, SERVICES)
    per_cell = {k: float(v.mean()) for k, v in cells.items()}  # per (item, service) cell
    walk = np.zeros(trials, dtype=bool)
    before = np.zeros(trials, dtype=bool)
    for k, v in cells.items():
        if not k.endswith(" before"):
            walk |= v.any(axis=1)
        if not k.endswith(("SCL-2", "SCL-3")):
            before |= v.any(axis=1)
    n_cells = SERVICES * sum(not k.endswith(" before") for k in cells)
    bound = RELATIVE.family_alpha  # the scale gate's budget; the absolute cells' measured share is added below
    return {
        "trials": trials,
        "cells": n_cells,
        "per_cell_false_fail": per_cell,
        "walk_false_rollback": float(walk.mean()),
        "walk_false_rollback_upper95": _upper95(int(walk.sum()), trials),
        "walk_false_rollback_before": float(before.mean()),
        "relative_budget": bound,
        "relative_cell_level": RELATIVE.relative_alpha(t.scale_window_min * 60, RULES.alpha_ratio),
    }


def _upper95(k: int, n: int) -> float:
    """Clopper-Pearson upper 95 % bound of a rate seen k times in n trials."""
    from scipy.stats import beta

    return 1.0 if k >= n else float(beta.ppf(0.95, k + 1, n - k))


def scan_factor(trials: int, rng: np.random.Generator, levels: tuple[float, ...] = (0.1, 0.03, 0.01)) -> list[dict]:
    """A relative cell's false-FAIL rate on equal versions, over its breach level (SCAN_FACTOR's evidence)."""
    steps = GATE_STEPS["SCL-2"]
    out: list[dict] = []
    grid = [(1, 1, 0.01), (6, 14, 0.0015), (6, 14, 0.002), (3, 17, 0.01), (7, 7, 0.005), (20, 20, 0.005)]
    grid += [(50, 50, 0.01), (7, 7, 0.02), (1, 19, 0.02)]
    for level in levels:
        for r1, r0, p in grid:
            total = steps + W
            n1 = rng.poisson(r1 * STEP, (trials, total))
            n0 = rng.poisson(r0 * STEP, (trials, total))
            e1, e0 = rng.binomial(n1, p).astype(float), rng.binomial(n0, p).astype(float)
            counts = tuple(_windows(a)[:, -steps:] for a in (e1, n1.astype(float), e0, n0.astype(float)))
            tests = C.ratio_tests(2.0, 0.001, RULES.alpha, level)
            label, _ = C.decide(counts, np.zeros((trials, steps), bool), tests, W, SUSTAIN, RULES.max_gap_scrapes)
            rate = float((label == 2).mean())
            out.append(
                {
                    "level": level,
                    "rps_new": r1,
                    "rps_old": r0,
                    "error_pct": 100 * p,
                    "false_fail": rate,
                    "upper95": _upper95(int((label == 2).sum()), trials),
                    "factor": rate / level,
                }
            )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rules", default="CAN-3,CAN-4,SCL-2,SCL-3")
    parser.add_argument("--json", default="reports/judgment.json")
    parser.add_argument("--walk", action="store_true", help="only the family-wise false-ROLLBACK rate of a walk")
    parser.add_argument("--scan", action="store_true", help="only the relative cells' scan factor")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    started = time.monotonic()
    if args.walk or args.scan:
        report: dict[str, Any] = {"trials": args.trials, "seed": args.seed}
        if args.scan:
            report["scan"] = scan_factor(args.trials, rng)
            for r in report["scan"]:
                print(
                    f"level {r['level']:g} new {r['rps_new']} old {r['rps_old']} req/s at {r['error_pct']:g}%: "
                    f"false FAIL {_pct(r['false_fail'])} (upper95 {_pct(r['upper95'])}), factor {r['factor']:.3f}"
                )
        if args.walk:
            report["walk"] = healthy_walk(args.trials, rng)
            print(json.dumps(report["walk"], indent=1))
        print(f"{time.monotonic() - started:.1f} s wall")
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=1))
        return 0
    results: list[dict[str, Any]] = []
    for cell in cells(args.rules.split(",")):
        got = simulate(cell, args.trials, rng)
        results.append({"rule": cell.rule, "rps": cell.rps, "cell": cell.name, "breach": cell.breach, **got})
    wall = time.monotonic() - started
    print(table(results))
    print(f"\n{len(results)} cells x {args.trials} trials in {wall:.1f} s wall")
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"trials": args.trials, "seed": args.seed, "wall_s": wall, "cells": results}, indent=1))
    print(f"JSON: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
