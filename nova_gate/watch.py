"""Watch mode: re-evaluate a phase's gate every scrape interval until its window is complete.

Stops at the first evaluation whose decision is not PROCEED (a sustained breach: ROLLBACK), and at
once on a catastrophic breach (an error rate over ``factor`` x its threshold for ``consecutive``
scrapes in a row, checked between evaluations). Every evaluation is kept in a JSON-lines file.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from nova_gate.config import load_environment, project_root
from nova_gate.rules.metrics import catastrophic
from nova_gate.sources.base import SourceError
from nova_gate.sources.prometheus import PrometheusSource


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
    log: Any = print,
) -> int:
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
    query = cfg.metrics.error_rate_pct.format(rate=cfg.metrics.rate_window)
    try:
        return _loop(
            phase, root, journal, env_arg, cfg, prometheus, query, window_min, interval_s, factor, consecutive, log
        )
    finally:
        if prometheus is not None:
            prometheus.close()


def _loop(
    phase: str,
    root: Path,
    journal: Path,
    env_arg: list[str],
    cfg: Any,
    prometheus: Any,
    query: str,
    window_min: float,
    interval_s: float,
    factor: float,
    consecutive: int,
    log: Any,
) -> int:
    recent: dict[tuple[str, ...], list[tuple[float, float | None]]] = {}
    deadline = time.monotonic() + window_min * 60
    n = 0
    while True:
        n += 1
        decision = _evaluate(phase, root / f"eval-{n:03d}", env_arg)
        entry = {
            "n": n,
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "decision": decision.get("decision"),
            "items": decision.get("items", {}),
        }
        with journal.open("a") as fh:
            fh.write(json.dumps(entry) + "\n")
        log(f"watch {phase} #{n}: {entry['decision']}")
        if entry["decision"] != "PROCEED":
            log(f"watch: stopped at evaluation {n}: {entry['decision']} (journal {journal})")
            return 1
        if time.monotonic() >= deadline:
            log(f"watch: window of {window_min:g} min complete after {n} evaluations: PROCEED (journal {journal})")
            return 0
        next_eval = time.monotonic() + interval_s
        while time.monotonic() < next_eval:
            if prometheus is not None:
                try:
                    now = prometheus.instant_by(query)
                except SourceError as exc:
                    log(f"watch: prometheus unreachable: {exc}")
                    now = {}
                for key, value in now.items():
                    if len(key) > 1 and key[1] == cfg.release.version:
                        recent.setdefault(key, []).append((time.time(), value))
                hot = [
                    k
                    for k, s in recent.items()
                    if catastrophic(s[-consecutive:], cfg.thresholds.error_rate_pct, factor, consecutive)
                ]
                if hot:
                    with journal.open("a") as fh:
                        fh.write(
                            json.dumps(
                                {
                                    "n": n,
                                    "catastrophic": [list(k) for k in hot],
                                    "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                                }
                            )
                            + "\n"
                        )
                    log(
                        f"watch: catastrophic error rate (>{factor:g}x) on {', '.join(k[0] for k in hot)}: "
                        f"ROLLBACK at once (journal {journal})"
                    )
                    return 1
            time.sleep(min(max(interval_s / consecutive, 1), max(next_eval - time.monotonic(), 0)))
