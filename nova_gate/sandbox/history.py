"""History on demand: make a scenario the simulator's active one and backfill Prometheus with it.

``nova-gate sandbox history sandbox/scenarios/bad-canary.yaml`` (or just ``bad-canary``):

1. writes the scenario, with the current time as its anchor (the scenario's end), to
   ``.sandbox/simulator/scenario.json``; the simulator re-reads it on its next request;
2. stops Prometheus and wipes its TSDB;
3. writes the past window as OpenMetrics, one file per 2 h block, and runs
   ``promtool tsdb create-blocks-from openmetrics`` on them (two at a time);
4. starts Prometheus again and waits until a query answers.

The values come from the same functions the simulator serves live, so the backfilled past and the
live scrapes form one continuous series (counters are integrals of the scenario's request rate).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import math
import os
import random
import shutil
import tempfile
import time
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from nova_gate.sandbox import kafka_layout, ports, scenario, sim_model
from nova_gate.sandbox.base import SandboxError, run, sandbox_data_dir, state_dir, wait_for

#: promtool builds the backfilled TSDB blocks; Prometheus checks its config with it too
PROMTOOL = "/usr/bin/promtool"
BLOCK_SECONDS = 7200  # promtool cuts blocks at 2 h boundaries; one input file per block
FINE_STEP = 15.0  # the live scrape interval, used for the most recent `fine_window`
JOB = "nova"


def scenarios_dir() -> Path:
    return sandbox_data_dir() / "scenarios"


def read_scenario(name_or_path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a scenario file (a path, or a name in sandbox/scenarios/) and validate it."""
    path = Path(name_or_path)
    if not path.exists():
        for candidate in (scenarios_dir() / path, scenarios_dir() / f"{path}.yaml"):
            if candidate.exists():
                path = candidate
                break
        else:
            known = ", ".join(sorted(p.stem for p in scenarios_dir().glob("*.yaml")))
            raise scenario.ScenarioError(str(name_or_path), "<file>", f"no such scenario; known: {known}")
    raw = scenario.read(path)  # ScenarioError: file:key: reason
    raw.setdefault("name", path.stem)
    return dict(raw)


def activate(raw: dict[str, Any], anchor: float | None = None) -> float:
    """Make ``raw`` the simulator's active scenario, ending now (or at ``anchor``)."""
    anchor = time.time() if anchor is None else anchor
    path = sim_model.scenario_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"anchor": anchor, "scenario": raw}, indent=1))
    tmp.replace(path)
    return anchor


def active_scenario() -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(sim_model.scenario_file().read_text())
    except (OSError, ValueError):
        return None
    return data


def prune_knob_history() -> None:
    """Loading a scenario rewrites the past: knobs that were set and reset before (a fault proof's
    residue) must not leak into the new history; a knob still in effect stays (its latest snapshot)."""
    path = sim_model.knobs_file()
    try:
        history_ = json.loads(path.read_text()).get("history", [])
    except (OSError, ValueError):
        return
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for snap in sorted(history_, key=lambda s: s.get("since", 0)):
        latest[(snap.get("service", ""), snap.get("version") or "*")] = snap
    keep = [s for s in latest.values() if any(s.get(k) for k in sim_model.KNOB_FIELDS)]
    if len(keep) == len(history_):
        return
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"history": keep}, indent=1))
    tmp.replace(path)


def active_model() -> sim_model.Model:
    data = active_scenario()
    if data is None:
        raise SandboxError("history: no active scenario")
    knobs: list[dict[str, Any]] = []
    with contextlib.suppress(OSError, ValueError):
        knobs = json.loads(sim_model.knobs_file().read_text()).get("history", [])
    return sim_model.compile_scenario(data["scenario"], float(data["anchor"]), knobs)


def sample_times(model: sim_model.Model, end: float | None = None) -> list[float]:
    """Coarse steps for the old part of the window, the scrape interval for the recent part."""
    end = model.anchor if end is None else end
    start = model.origin
    fine_from = max(start, end - model.fine_window)
    step = max(model.step, FINE_STEP)
    times = [float(t) for t in range(int(math.ceil(start / step) * step), int(fine_from), int(step))]
    t = math.ceil(fine_from / FINE_STEP) * FINE_STEP
    while t <= end:
        times.append(float(t))
        t += FINE_STEP
    return times


def scrape_lines(model: sim_model.Model, t: float, job: str, name: str, port: int, base: str) -> list[str]:
    """One scrape of one target at ``t``: its ``up`` and, when up, its versions' samples.

    ``name`` is the series' service label, ``base`` the service whose model it follows (the scaled
    profile's copies of a service follow that service).
    """
    ts = f"{t:.0f}"
    extra = f'job="{job}",instance="{ports.HOST}:{port}",'
    down = model.is_down(base, t)
    lines = [f'up{{{extra}service="{name}"}} {0 if down else 1} {ts}\n']
    if down:
        return lines
    samples: list[tuple[str, float]] = []
    for version, track in model.service_tracks(base):
        samples.extend(sim_model.version_samples(name, version, track, t, extra))
    lines.extend(f"{series} {sim_model._fmt(value)} {ts}\n" for series, value in samples)
    return lines


def openmetrics_lines(
    model: sim_model.Model,
    times: list[float],
    job: str = JOB,
    targets: Iterable[tuple[str, int, str]] | None = None,
) -> tuple[list[str], int]:
    """Samples for ``times`` (time-major, so every series is sorted), and their count.

    ``targets`` are ``(service label, port, modelled service)``; by default the 11 services.
    """
    chosen = list(targets) if targets is not None else [(s, p, s) for s, p in ports.SERVICES.items()]
    lines: list[str] = []
    for t in times:
        for name, port, base in chosen:
            lines.extend(scrape_lines(model, t, job, name, port, base))
        if job == JOB:  # the consumer-lag exporter's past (the scaled profile has no consumers of its own)
            lines.extend(f"{series} {value} {t:.0f}\n" for series, value in lag_history(model, t))
    return lines, len(lines)


def lag_history(model: sim_model.Model, t: float) -> list[tuple[str, int]]:
    """The consumer-lag exporter's series at a past time ``t``, as it would have scraped them: per
    group and partition, Poisson around the scenario's ``kafka.lag`` of the group's service (split
    over the group's partitions), under the exporter's job and instance so that the live scrapes of
    the real brokers' offsets (nova_gate/sandbox/streams.py) continue the same series."""
    extra = f'instance="{kafka_layout.EXPORTER_INSTANCE}",job="{kafka_layout.EXPORTER_JOB}"'
    out: list[tuple[str, int]] = []
    for group, topics in kafka_layout.CONSUMER_GROUPS.items():
        service = group.removesuffix("-consumer")
        track = model.lag.get(service)
        total = max(track.params_at(t)["lag"], 0.0) if track is not None else sim_model.KAFKA_PARAMS["lag"]
        parts = [(topic, p) for topic in topics for p in range(kafka_layout.TOPIC_BY_NAME[topic].partitions)]
        for topic, p in parts:
            rng = random.Random(zlib.crc32(f"{group}|{topic}|{p}|{t:.0f}".encode()))
            value = poisson(rng, total / len(parts))
            out.append(
                (f'kafka_consumergroup_lag{{consumergroup="{group}",{extra},partition="{p}",topic="{topic}"}}', value)
            )
    return out


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's product of uniforms; the normal approximation above a mean of 50)."""
    if mean <= 0:
        return 0
    if mean > 50:
        return max(round(rng.gauss(mean, math.sqrt(mean))), 0)
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def write_blocks(
    model: sim_model.Model,
    times: list[float],
    out: Path,
    *,
    job: str = JOB,
    targets: Iterable[tuple[str, int, str]] | None = None,
    workers: int = 2,
    timeout: float = 300,
) -> tuple[int, int, float]:
    """Turn ``times``' samples into TSDB blocks in ``out`` (one OpenMetrics file a block window, each
    through ``promtool tsdb create-blocks-from openmetrics``); return samples, blocks, generation seconds.
    """
    t0 = time.monotonic()
    chosen = list(targets) if targets is not None else None
    work = Path(tempfile.mkdtemp(prefix="backfill-", dir=state_dir()))
    chunks: dict[int, list[float]] = {}
    for t in times:
        chunks.setdefault(int(t // BLOCK_SECONDS), []).append(t)
    files: list[Path] = []
    samples = 0
    try:
        for index, chunk in sorted(chunks.items()):
            lines, count = openmetrics_lines(model, chunk, job, chosen)
            samples += count
            path = work / f"block-{index}.om"
            with path.open("w") as fh:
                fh.writelines(lines)
                fh.write("# EOF\n")
            files.append(path)
        generated = time.monotonic() - t0

        def create(path: Path) -> None:
            run(
                [PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", "--quiet", str(path), str(out)],
                timeout=timeout,
            )

        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(create, files))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return samples, len(files), generated


def backfill(model: sim_model.Model, tsdb: Path, end: float | None = None, log: Any = print) -> dict[str, Any]:
    """Write the model's past window into ``tsdb`` as TSDB blocks; return counts and timings."""
    t0 = time.monotonic()
    times = sample_times(model, end)
    if not times:
        return {"samples": 0, "blocks": 0, "seconds": 0.0}
    tsdb.mkdir(parents=True, exist_ok=True)
    samples, blocks, generated = write_blocks(model, times, tsdb, workers=max(2, min(4, os.cpu_count() or 2)))
    result = {
        "samples": samples,
        "points_per_series": len(times),
        "blocks": blocks,
        "generate_s": round(generated, 1),
        "seconds": round(time.monotonic() - t0, 1),
    }
    log(
        f"history: backfilled {samples} samples ({len(times)} points per series, {blocks} blocks) "
        f"in {result['seconds']}s (generation {result['generate_s']}s)"
    )
    return result


@runtime_checkable
class TsdbServer(Protocol):
    """What a scenario load needs of the metrics server (``nova_gate.sandbox.prometheus.Prometheus``).

    A protocol, so that the history (the lower layer: scenario and backfill) never imports the
    component that uses it.
    """

    @property
    def tsdb(self) -> Path: ...
    def stop(self) -> None: ...
    def wipe_tsdb(self) -> None: ...
    def install(self) -> None: ...
    def start(self) -> None: ...
    def answers(self, expr: str) -> bool: ...


def load(scenario_path: str | os.PathLike[str], log: Any = print) -> dict[str, Any]:
    """Activate a scenario and rebuild Prometheus' TSDB from it; return timings and counts."""
    return load_raw(read_scenario(scenario_path), log=log)


def load_raw(raw: dict[str, Any], log: Any = print) -> dict[str, Any]:
    """Activate an already-read scenario (e.g. the active one again, ``active_scenario()["scenario"]``)
    and rebuild Prometheus' TSDB from it: the only way to drop series, the admin API being off."""
    from nova_gate.sandbox import manager

    t0 = time.monotonic()
    prune_knob_history()
    anchor = activate(raw)
    model = active_model()
    prom = manager.component("prometheus")
    assert isinstance(prom, TsdbServer)
    prom.stop()
    prom.wipe_tsdb()
    result = backfill(model, prom.tsdb, end=anchor, log=log)
    prom.install()
    prom.start()
    wait_for(lambda: prom.answers("count(http_requests_total)"), "prometheus to answer a query", 60)
    result.update(scenario=raw.get("name"), anchor=anchor, total_s=round(time.monotonic() - t0, 1))
    log(f"history: scenario {raw.get('name')!r} loaded, queryable after {result['total_s']}s")
    return result
