"""Watch mode: follow a phase's metric window live, stop early only with a guarantee.

* Every ``interval_s`` it reads the new version's sliding-window counts (errors and requests, requests
  slower than the P95 limit) since the watched window began and applies :func:`anytime_breach`: the
  gate's sustained-breach rule with its breach evidence at ``alpha / steps of the window``. Each scrape
  step is tested once however often the watch looks, so the probability of a false ROLLBACK during the
  whole watch is at most ``alpha`` (Bonferroni over the window's steps).
* Between looks, a catastrophic breach (an error rate over ``factor`` x its threshold for
  ``consecutive`` scrapes) stops it at once.
* PROCEED only when the window is complete: then the phase's full gate runs once and decides.

Every look is kept in ``reports/watch-*/evaluations.jsonl``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from nova_gate.backends.base import SourceError
from nova_gate.backends.prometheus.source import PrometheusSource
from nova_gate.config import load_environment, project_root
from nova_gate.rules.metrics import catastrophic

#: the false-ROLLBACK bound of the early stop over a whole watch
WATCH_ALPHA = 0.05
SCRAPE_S = 15.0


def _evaluate(phase: str, reports: Path, env_arg: list[str]) -> dict[str, Any]:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-m",
            f"{phase} and prometheus",
            "--report-only",
            f"--reports-dir={reports}",
            *env_arg,
        ],
        cwd=project_root(),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    try:
        decision: dict[str, Any] = json.loads((reports / "decision.json").read_text())
    except (OSError, ValueError):
        decision = {"decision": "ROLLBACK", "items": {}, "error": (proc.stderr or proc.stdout)[-500:]}
    if decision.get("decision") == "PARTIAL":
        # only the phase's metric items are evaluated here, so the record is partial (issue 14);
        # for the watch that means "no breach": the gate itself still needs the whole phase
        decision = {**decision, "decision": "PROCEED", "record_decision": "PARTIAL"}
    return decision


def watch(
    phase: str,
    *,
    interval_s: float = 15,
    max_minutes: float | None = None,
    env: str | None = None,
    factor: float = 10,
    consecutive: int = 2,
    since_minutes: float = 0,
    alpha: float = WATCH_ALPHA,
    log: Any = print,
) -> int:
    """Watch ``phase`` until its window (``max_minutes``, default the phase's) is complete: 0 PROCEED, 1 not.

    ``since_minutes``: the watched window began that long ago (the canary was deployed before the watch)."""
    loaded = load_environment(env)
    cfg = loaded.env
    window_min = (
        max_minutes
        if max_minutes is not None
        else {
            "canary_gate": cfg.thresholds.canary_window_min,
            "scale_gate": cfg.thresholds.scale_window_min,
            "stability_gate": cfg.thresholds.stability_window_min,
        }.get(phase, cfg.thresholds.canary_window_min)
    )
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    root = project_root() / "reports" / f"watch-{phase}-{cfg.release.version}-{stamp}"
    root.mkdir(parents=True, exist_ok=True)
    journal = root / "evaluations.jsonl"
    env_arg = [f"--env={env}"] if env else []
    prometheus = PrometheusSource(cfg.backends.prometheus) if cfg.backends.prometheus else None
    started = time.time() - since_minutes * 60
    try:
        return _loop(
            phase,
            root,
            journal,
            env_arg,
            cfg,
            prometheus,
            started,
            window_min,
            interval_s,
            factor,
            consecutive,
            alpha,
            log,
        )
    finally:
        if prometheus is not None:
            prometheus.close()


def _write(journal: Path, entry: dict[str, Any]) -> None:
    with journal.open("a") as fh:
        fh.write(json.dumps(entry) + "\n")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _loop(
    phase: str,
    root: Path,
    journal: Path,
    env_arg: list[str],
    cfg: Any,
    prometheus: Any,
    started: float,
    window_min: float,
    interval_s: float,
    factor: float,
    consecutive: int,
    alpha: float,
    log: Any,
) -> int:
    recent: dict[tuple[str, ...], list[tuple[float, float | None]]] = {}
    deadline = started + window_min * 60
    horizon = max(1, math.ceil(window_min * 60 / SCRAPE_S))
    rate_query = cfg.metrics.error_rate_pct.format(rate=cfg.metrics.rate_window)
    n = 0
    while True:
        n += 1
        if time.time() >= deadline:
            decision = _evaluate(phase, root / "final", env_arg)
            _write(
                journal,
                {"n": n, "at": _now(), "decision": decision.get("decision"), "items": decision.get("items", {})},
            )
            verdict = decision.get("decision")
            log(f"watch: window of {window_min:g} min complete after {n - 1} look(s): {verdict} (journal {journal})")
            return 0 if verdict == "PROCEED" else 1
        found: dict[str, Any] = {}
        error = None
        if prometheus is not None:
            try:
                found = early_breaches(prometheus, cfg, started, horizon, alpha)
            except SourceError as exc:
                error = str(exc)
                log(f"watch: prometheus unreachable: {exc}")
        entry = {"n": n, "at": _now(), "decision": "ROLLBACK" if found else "CONTINUE", "anytime": found}
        if error:
            entry["error"] = error
        _write(journal, entry)
        log(f"watch {phase} #{n}: {entry['decision']}")
        if found:
            log(
                f"watch: anytime-valid breach (false-rollback bound {alpha:g}) on {', '.join(sorted(found))}: "
                f"ROLLBACK at look {n} (journal {journal})"
            )
            return 1
        next_look = min(time.time() + interval_s, deadline)
        while time.time() < next_look:
            if prometheus is not None:
                try:
                    now = prometheus.instant_by(rate_query)
                except SourceError as exc:
                    log(f"watch: prometheus unreachable: {exc}")
                    now = {}
                for key, value in now.items():
                    if len(key) > 1 and key[1] == cfg.release.version:
                        recent.setdefault(key, []).append((time.time(), value))
                hot = [
                    k
                    for k, series in recent.items()
                    if catastrophic(series[-consecutive:], cfg.thresholds.error_rate_pct, factor, consecutive)
                ]
                if hot:
                    _write(journal, {"n": n, "catastrophic": [list(k) for k in hot], "at": _now()})
                    log(
                        f"watch: catastrophic error rate (>{factor:g}x) on {', '.join(k[0] for k in hot)}: "
                        f"ROLLBACK at once (journal {journal})"
                    )
                    return 1
            time.sleep(min(max(interval_s / consecutive, 1), max(next_look - time.time(), 0)))


def early_breaches(prometheus: Any, cfg: Any, started: float, horizon: int, alpha: float) -> dict[str, Any]:
    """{service: evidence} of every service whose error rate or P95 is an anytime-valid breach."""
    import numpy as np

    from nova_gate.windows import duration_s

    m, t = cfg.metrics, cfg.thresholds
    end = time.time()
    if end - started < SCRAPE_S:
        return {}
    window_steps = max(1, math.ceil(duration_s(m.count_window) / SCRAPE_S))
    sustain_steps = max(1, math.ceil(t.sustain_min * 60 / SCRAPE_S))
    version = cfg.release.version
    grid_start = end - math.floor((end - started) / SCRAPE_S) * SCRAPE_S
    fetch = {
        which: prometheus.range_by(
            getattr(m, f"{which}_increase").format(window=m.count_window), grid_start, end, SCRAPE_S, by=by
        )
        for which, by in (("requests", ("service", "version")), ("errors", ("service", "version")))
    }
    buckets = prometheus.range_by(
        m.buckets_increase.format(window=m.count_window), grid_start, end, SCRAPE_S, by=("service", "version", "le")
    )
    found: dict[str, Any] = {}
    for service in cfg.service_names:
        n = np.array([[v if v is not None else np.nan for _, v in fetch["requests"].get((service, version), [])]])
        if n.size == 0:
            continue
        e_raw = fetch["errors"].get((service, version), [])
        e = np.array([[v if v is not None else 0.0 for _, v in e_raw]]) if e_raw else np.zeros_like(n)
        checks = {"error_rate": (np.nan_to_num(e), n, t.error_rate_pct / 100.0)}
        slow = _slow(buckets, service, version, t.p95_ms / 1000.0, n.shape[1])
        if slow is not None:
            checks["p95"] = (slow[0], slow[1], 0.05)
        for metric, (events, total, limit) in checks.items():
            missing = np.isnan(total)
            step = anytime_breach(
                np.where(missing, 0.0, events),
                np.nan_to_num(total),
                limit,
                window_steps,
                sustain_steps,
                alpha=alpha,
                horizon=horizon,
                windows_given=True,
                missing=missing,
                max_gap=m.max_gap_scrapes,
            )
            if int(step[0]) >= 0:
                at = grid_start + int(step[0]) * SCRAPE_S
                found.setdefault(service, {})[metric] = {
                    "at": dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="seconds"),
                    "limit": limit,
                    "level": alpha / horizon,
                }
    return found


def _slow(raw: dict[tuple[str, ...], Any], service: str, version: str, limit_s: float, steps: int) -> Any:
    import numpy as np

    from nova_gate.rules.counts import slow_counts

    per_le = {}
    for (svc, ver, le), samples in raw.items():
        if svc == service and ver == version:
            try:
                per_le[float(le)] = [v if v is not None else np.nan for _, v in samples]
            except ValueError:
                continue
    if float("inf") not in per_le or len(per_le) < 2:
        return None
    bounds = sorted(b for b in per_le if b != float("inf"))
    cum = np.array([[per_le[b] for b in [*bounds, float("inf")]]]).transpose(0, 2, 1)[:, :steps, :]
    cum = np.maximum.accumulate(np.nan_to_num(cum), axis=-1)
    return slow_counts(cum, np.asarray(bounds), limit_s), np.where(
        np.isnan(np.array([per_le[float("inf")]])), np.nan, cum[..., -1]
    )


# -- the anytime-valid early stop -----------------------------------------------------------------------
def anytime_breach(
    events: Any,
    requests: Any,
    limit: float,
    window_steps: int,
    sustain_steps: int,
    alpha: float = WATCH_ALPHA,
    horizon: int | None = None,
    max_gap: int = 4,
    windows_given: bool = False,
    missing: Any = None,
) -> Any:
    """First scrape step at which watch mode may say ROLLBACK before its window is complete (-1: never).

    ``events``/``requests`` are per-step increments (rows = independent series) since the watch began, or
    (``windows_given``) the sliding-window counts themselves. The gate's sustained-breach rule is applied
    at every step with its breach evidence at the level ``alpha / horizon`` (Bonferroni over the steps of
    the watched window), testing only the shortest stretch so each step is one test: under "the ratio
    never exceeds the limit" the probability of any false ROLLBACK during the whole watch is at most
    ``alpha``, whatever the number of looks (a look re-reads the same steps). PROCEED is never decided
    here: only the complete window's gate decides it.
    """
    import numpy as np

    from nova_gate.rules import counts as c

    e = np.atleast_2d(np.asarray(events, dtype=float))
    n = np.atleast_2d(np.asarray(requests, dtype=float))
    steps = e.shape[1]
    horizon = max(horizon or steps, 1)

    def windows(inc: Any) -> Any:
        cum = np.cumsum(inc, axis=1)
        back = np.zeros_like(cum)
        back[:, window_steps:] = cum[:, :-window_steps]
        return cum - back

    we, wn = (e, n) if windows_given else (windows(e), windows(n))
    tests = c.excess_tests(limit, c.DEFAULT_ALPHA, False, alpha_breach=alpha / horizon)
    gaps = np.zeros(e.shape, dtype=bool) if missing is None else np.atleast_2d(np.asarray(missing, dtype=bool))
    found = c.sustained((we, wn), gaps, tests[0], tests[1], window_steps, sustain_steps, max_gap, max_stretches=1)
    return found.first
