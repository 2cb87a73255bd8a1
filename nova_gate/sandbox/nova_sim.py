"""The Nova simulator: 11 fake Rust services on loopback, with metrics that are a function of time.

Run as ``python -m nova_gate.sandbox.nova_sim``. One process listens on every port of
``ports.SERVICES`` plus an admin port (58099). Each service answers health probes and ``/metrics``
(Prometheus text format); every port also serves the small smoke API (register, login, JWKS, feed,
conversations, messages) backed by the sandbox's real PostgreSQL and Redis.

Metric values are computed from the *active scenario* (``.sandbox/simulator/scenario.json``, written
by ``history.load``) and the runtime knobs (``.sandbox/simulator/knobs.json``): a counter at time t is
the integral of the scenario's request rate from the process start up to t, so the history that
``history.load`` backfills and what Prometheus scrapes live form one continuous series.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import math
import os
import queue
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from nova_gate.sandbox import ports

ADMIN_PORT = 58099
MIB = 1024 * 1024
#: histogram bucket upper bounds (seconds); 0.5/0.6 and 1/1.5 tell P95 500 ms and P99 1 s apart
BUCKETS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.25,
    0.3,
    0.4,
    0.5,
    0.6,
    0.75,
    1.0,
    1.5,
    2.0,
    2.5,
    5.0,
    7.5,
    10.0,
)
LE_LABELS: tuple[str, ...] = (*(f"{b:g}" for b in BUCKETS), "+Inf")
#: a crash-looping version restarts every CRASH_PERIOD s and is down the first CRASH_DOWN s of each
CRASH_PERIOD = 30.0
CRASH_DOWN = 8.0

#: every per-version parameter a scenario may set, with the built-in defaults
VERSION_PARAMS: dict[str, float] = {
    "rps": 20.0,  # requests per second served by this version
    "error_pct": 0.2,  # % of requests answered 500
    "p50_ms": 40.0,
    "p95_ms": 180.0,
    "p99_ms": 350.0,
    "cpu_pct": 30.0,  # % of the CPU limit
    "memory_mb": 300.0,  # resident memory at the start of the (segment's) span
    "memory_slope_mb_per_h": 0.0,  # linear growth from the start of that span
    "memory_limit_mb": 1024.0,
    "absent": 0.0,  # 1/true: the version exports no samples at all
}
#: the backfilled past's consumer lag of the service's group (history.lag_history); the live lag is real
KAFKA_PARAMS: dict[str, float] = {"lag": 20.0}
#: knob fields an admin POST may set (besides service/version)
KNOB_FIELDS = ("error_rate", "latency_ms", "down", "crash")

DEFAULT_SCENARIO: dict[str, Any] = {
    "name": "good-release",
    "description": "v0.9.0 baseline serving, v1.0.0 canary healthy (built-in default)",
    "window": "24h",
    "defaults": {
        "v0.9.0": {
            "rps": 14,
            "error_pct": 0.2,
            "p50_ms": 40,
            "p95_ms": 180,
            "p99_ms": 350,
            "cpu_pct": 35,
            "memory_mb": 310,
            "memory_limit_mb": 1024,
        },
        "v1.0.0": {
            "rps": 6,
            "error_pct": 0.15,
            "p50_ms": 38,
            "p95_ms": 170,
            "p99_ms": 330,
            "cpu_pct": 33,
            "memory_mb": 300,
            "memory_limit_mb": 1024,
        },
        "kafka": {"lag": 20},
    },
}


def state_root() -> Path:
    from nova_gate.sandbox.base import state_dir

    return state_dir() / "simulator"


def scenario_file() -> Path:
    return state_root() / "scenario.json"


def knobs_file() -> Path:
    return state_root() / "knobs.json"


def kafka_group(service: str) -> str:
    """The consumer group a service's pods join (``feed-service`` → ``nova-feed``)."""
    return "nova-" + service.removesuffix("-service")


# -- durations --------------------------------------------------------------------------------
_DUR = re.compile(r"^\s*([+-]?)\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(value: Any) -> float:
    """``"-15m"`` → -900.0; numbers are seconds; ``"0"``/``"end"`` → 0."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip().lower()
    if text in ("end", "now"):
        return 0.0
    match = _DUR.match(text)
    if not match:
        raise ValueError(f"not a duration: {value!r} (use e.g. -15m, 2h, 90s)")
    sign = -1.0 if match.group(1) == "-" else 1.0
    return sign * float(match.group(2)) * _UNIT[match.group(3)]


# -- latency distribution -----------------------------------------------------------------------
def _interp(points: list[tuple[float, float]], x: float) -> float:
    if x <= points[0][0]:
        return points[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return points[-1][1]


_CDF_CACHE: dict[tuple[float, float, float], tuple[tuple[float, ...], float]] = {}


def latency_cdf(p50_ms: float, p95_ms: float, p99_ms: float) -> tuple[tuple[float, ...], float]:
    """Cumulative fractions at each bucket bound and the mean latency (s) for three percentiles.

    The fractions are chosen so that Prometheus' ``histogram_quantile`` (linear inside a bucket)
    gives back the percentiles exactly when each falls in a bucket of its own.
    """
    key = (p50_ms, p95_ms, p99_ms)
    if key in _CDF_CACHE:
        return _CDF_CACHE[key]
    p50 = min(max(p50_ms / 1000, 0.0005), 9.0)
    p95 = min(max(p95_ms / 1000, p50 * 1.0001), 9.3)
    p99 = min(max(p99_ms / 1000, p95 * 1.0001), 9.6)
    pmax = min(max(p99 * 1.6, p99 + 0.05), BUCKETS[-1])
    anchors = [(0.0, 0.0), (p50, 0.5), (p95, 0.95), (p99, 0.99), (pmax, 1.0)]
    bounds = (0.0, *BUCKETS)
    fixed: dict[int, float] = {0: 0.0}
    for v, q in anchors[1:4]:
        k = next(i for i in range(1, len(bounds)) if v <= bounds[i])  # bucket (bounds[k-1], bounds[k]]
        a, c = bounds[k - 1], bounds[k]
        if v == c:
            fixed[k] = q
            continue
        if k - 1 in fixed:
            fa = fixed[k - 1]
            fc = fa + (q - fa) * (c - a) / (v - a) if v > a else q
        else:
            fc = _interp(anchors, c)
            fa = (q * (c - a) - fc * (v - a)) / (c - v)
            prev = max(val for i, val in fixed.items() if i < k - 1)
            if fa < prev or fa > q:
                fa = max(prev, min(_interp(anchors, a), q))
                fc = fa + (q - fa) * (c - a) / (v - a) if v > a else q
            fixed[k - 1] = fa
        fixed[k] = min(fc, 1.0)
    # bounds beyond the tail are complete
    for i, b in enumerate(bounds):
        if b >= pmax and i not in fixed:
            fixed[i] = 1.0
    known = sorted(fixed.items())
    values = []
    for i, b in enumerate(bounds):
        if i in fixed:
            values.append(fixed[i])
            continue
        lo = max((j for j, _ in known if j < i), default=0)
        hi = min((j for j, _ in known if j > i), default=len(bounds) - 1)
        flo, fhi = fixed.get(lo, 0.0), fixed.get(hi, 1.0)
        values.append(flo + (fhi - flo) * (b - bounds[lo]) / (bounds[hi] - bounds[lo]))
    # monotone, within [0, 1]
    out: list[float] = []
    running = 0.0
    for val in values:
        running = min(1.0, max(running, val))
        out.append(running)
    mean = sum((out[i] - out[i - 1]) * (bounds[i] + bounds[i - 1]) / 2 for i in range(1, len(bounds)))
    result = (tuple(out[1:]), mean)
    _CDF_CACHE[key] = result
    return result


def histogram_quantile(q: float, fractions: tuple[float, ...]) -> float:
    """Prometheus' estimate from cumulative bucket fractions (for self-checks and reports)."""
    bounds = (0.0, *BUCKETS)
    cum = (0.0, *fractions)
    for i in range(1, len(bounds)):
        if cum[i] >= q:
            if cum[i] == cum[i - 1]:
                return bounds[i]
            return bounds[i - 1] + (bounds[i] - bounds[i - 1]) * (q - cum[i - 1]) / (cum[i] - cum[i - 1])
    return bounds[-1]


# -- scenario model -----------------------------------------------------------------------------
@dataclass
class Segment:
    start: float  # absolute epoch seconds (-inf: from the beginning)
    end: float  # absolute epoch seconds (inf: open-ended, continues live)
    values: dict[str, float]


@dataclass
class Track:
    """One time series family source: a (service, version) or a service's Kafka consumer group."""

    base: dict[str, float]
    origin: float  # process start: counters integrate from here
    segments: list[Segment] = field(default_factory=list)
    crash: list[tuple[float, float]] = field(default_factory=list)
    _intervals: list[tuple[float, float, dict[str, float]]] | None = None
    #: "service/version/seed" when counters are drawn per scrape slot (Poisson traffic), None = exact
    noise_key: str | None = None
    _blocks: dict[int, Any] = field(default_factory=dict)

    def params_at(self, t: float) -> dict[str, float]:
        params = dict(self.base)
        mem_origin = self.origin
        for seg in self.segments:
            if seg.start <= t < seg.end:
                params.update(seg.values)
                if "memory_mb" in seg.values or "memory_slope_mb_per_h" in seg.values:
                    mem_origin = max(seg.start, self.origin)
        params["_memory_origin"] = mem_origin
        return params

    def breakpoints(self) -> list[float]:
        points = {self.origin}
        for seg in self.segments:
            for p in (seg.start, seg.end):
                if math.isfinite(p) and p > self.origin:
                    points.add(p)
        return sorted(points)

    def intervals(self) -> list[tuple[float, float, dict[str, float]]]:
        """Constant-parameter spans from the origin on: (start, end, params)."""
        if self._intervals is None:
            pts = self.breakpoints()
            spans = []
            for i, start in enumerate(pts):
                end = pts[i + 1] if i + 1 < len(pts) else math.inf
                spans.append((start, end, self.params_at(start)))
            self._intervals = spans
        return self._intervals

    def rate_vector(self, params: dict[str, float]) -> list[float]:
        """Per-second increments: [requests, errors, bucket_1..n, latency_sum]."""
        rps = max(params["rps"], 0.0)
        if params.get("absent"):
            rps = 0.0
        fractions, mean = latency_cdf(params["p50_ms"], params["p95_ms"], params["p99_ms"])
        err = min(max(params["error_pct"], 0.0), 100.0) / 100
        return [rps, rps * err, *(rps * f for f in fractions), rps * mean]

    def cumulative(self, t: float) -> list[float]:
        """Counters at t: Poisson draws per 15-s slot when noisy, else the integral of the rate vector."""
        if self.noise_key is not None:
            return noisy_cumulative(self, t)
        total: list[float] | None = None
        for start, end, params in self.intervals():
            if start >= t:
                break
            span = min(end, t) - start
            vec = self.rate_vector(params)
            total = (
                [x * span for x in vec] if total is None else [a + x * span for a, x in zip(total, vec, strict=True)]
            )
        return total or [0.0] * (len(BUCKETS) + 3)

    def last_restart(self, t: float) -> float:
        restart = self.origin
        for start, end in self.crash:
            if start <= t:
                upto = min(t, end - 1e-6)
                restart = max(restart, start + math.floor((upto - start) / CRASH_PERIOD) * CRASH_PERIOD)
        return restart

    def crash_down(self, t: float) -> bool:
        return any(start <= t < end and (t - start) % CRASH_PERIOD < CRASH_DOWN for start, end in self.crash)


@dataclass
class Model:
    name: str
    anchor: float
    window: float
    step: float
    fine_window: float
    tracks: dict[tuple[str, str], Track]  # (service, version)
    lag: dict[str, Track]  # service → kafka track
    down: dict[str, list[tuple[float, float]]]  # service → down spans
    versions: list[str]

    @property
    def origin(self) -> float:
        return self.anchor - self.window

    def is_down(self, service: str, t: float) -> bool:
        return any(s <= t < e for s, e in self.down.get(service, []))

    def service_tracks(self, service: str) -> list[tuple[str, Track]]:
        return [(v, self.tracks[(service, v)]) for v in self.versions if (service, v) in self.tracks]


# -- realistic traffic: counts drawn per scrape slot ---------------------------------------------
#: counters move in 15-s slots (the scrape interval), aligned to the epoch; one block = 1 h of slots
SLOT_S = 15.0
BLOCK_SLOTS = 240
_BLOCKS: dict[tuple[str, int, bytes], Any] = {}
_BLOCKS_LOCK = threading.Lock()


def _stable_seed(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def _block(track: Track, block: int) -> Any:
    """Cumulative-within-block counts of one hour of slots: array (BLOCK_SLOTS + 1, 3 + len(BUCKETS)).

    Per slot: requests ~ Poisson(rps x 15 s); each request is an error with probability error_pct and
    has a latency drawn from the designed distribution (its bucket by inverse CDF). Each kind of draw
    has its own random stream, consumed in slot order, so a slot's counts depend only on its own and
    earlier slots' parameters: a knob set now never changes what was already served."""
    import numpy as np

    assert track.noise_key is not None
    mine = track._blocks.get(block)
    if mine is not None:
        return mine
    first = block * BLOCK_SLOTS
    spans = track.intervals()
    starts = np.array([a for a, _, _ in spans])
    table = np.array(
        [
            [
                0.0 if p.get("absent") else max(p["rps"], 0.0),
                min(max(p["error_pct"], 0.0), 100.0) / 100,
                p["p50_ms"],
                p["p95_ms"],
                p["p99_ms"],
            ]
            for _, _, p in spans
        ]
    )
    slot_starts = (first + np.arange(BLOCK_SLOTS)) * SLOT_S
    which = np.searchsorted(starts, slot_starts, side="right") - 1
    rates = np.where((which >= 0)[:, None], table[np.maximum(which, 0)], 0.0)
    key = (track.noise_key, block, rates.tobytes())
    with _BLOCKS_LOCK:
        hit = _BLOCKS.get(key)
    if hit is not None:
        track._blocks[block] = hit
        return hit
    seed = _stable_seed(f"{track.noise_key}/{block}")
    n = np.random.default_rng([seed, 0]).poisson(rates[:, 0] * SLOT_S)
    total = int(n.sum())
    slot_of = np.repeat(np.arange(BLOCK_SLOTS), n)
    errors = np.random.default_rng([seed, 1]).random(total) < rates[slot_of, 1]
    u = np.random.default_rng([seed, 2]).random(total)
    width = len(BUCKETS) + 1
    bucket = np.zeros(total, dtype=np.int64)
    means = np.zeros(BLOCK_SLOTS)
    for combo in np.unique(rates[:, 2:5], axis=0):
        slots = np.flatnonzero((rates[:, 2:5] == combo).all(axis=1))
        fractions, mean = latency_cdf(float(combo[0]), float(combo[1]), float(combo[2]))
        means[slots] = mean
        rows = np.isin(slot_of, slots)
        bucket[rows] = np.searchsorted(np.asarray(fractions), u[rows], side="right")
    per_slot = np.zeros((BLOCK_SLOTS, 3 + len(BUCKETS)))
    per_slot[:, 0] = n
    per_slot[:, 1] = np.bincount(slot_of[errors], minlength=BLOCK_SLOTS)
    hist = np.bincount(slot_of * width + bucket, minlength=BLOCK_SLOTS * width).reshape(BLOCK_SLOTS, width)
    per_slot[:, 2 : 2 + len(BUCKETS)] = np.cumsum(hist, axis=1)[:, : len(BUCKETS)]
    per_slot[:, -1] = n * means
    out = np.vstack([np.zeros((1, per_slot.shape[1])), np.cumsum(per_slot, axis=0)])
    with _BLOCKS_LOCK:
        if len(_BLOCKS) > 5_000:
            _BLOCKS.clear()
        _BLOCKS[key] = out
    track._blocks[block] = out
    return out


def _slot_sum(track: Track, k0: int, k1: int) -> Any:
    """Sum of the counts of slots k0 <= k < k1."""
    import numpy as np

    total = np.zeros(3 + len(BUCKETS))
    k = k0
    while k < k1:
        block = k // BLOCK_SLOTS
        lo = k - block * BLOCK_SLOTS
        hi = min(k1 - block * BLOCK_SLOTS, BLOCK_SLOTS)
        cum = _block(track, block)
        total += cum[hi] - cum[lo]
        k = block * BLOCK_SLOTS + hi
    return total


def noisy_cumulative(track: Track, t: float) -> list[float]:
    """Counters at t: every complete slot since the origin (slots starting at or after it)."""
    k0 = math.ceil(track.origin / SLOT_S - 1e-9)
    k1 = math.floor(t / SLOT_S + 1e-9)
    if k1 <= k0:
        return [0.0] * (len(BUCKETS) + 3)
    return [float(x) for x in _slot_sum(track, k0, k1)]


#: relative standard deviation of the CPU and memory gauges from one scrape slot to the next
CPU_NOISE = 0.08
MEMORY_NOISE = 0.01


def gauge_noise(key: str, which: str, t: float) -> float:
    """A standard normal draw fixed by (track, gauge, 15-s slot): backfill and live scrapes agree."""
    digest = hashlib.sha256(f"{key}/{which}/{math.floor(t / SLOT_S + 1e-9)}".encode()).digest()
    u1 = (int.from_bytes(digest[:8], "big") + 1) / 2.0**64
    u2 = int.from_bytes(digest[8:16], "big") / 2.0**64
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def _split_track(spec: Any, where: str) -> tuple[dict[str, float], list[dict[str, Any]]]:
    if spec is None:
        return {}, []
    if not isinstance(spec, dict):
        raise ValueError(f"{where}: expected a mapping of parameters (and optional segments)")
    base = {k: v for k, v in spec.items() if k != "segments"}
    segments = spec.get("segments") or []
    if not isinstance(segments, list):
        raise ValueError(f"{where}.segments: expected a list")
    return base, segments


def _coerce(params: dict[str, Any], allowed: dict[str, float], where: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in params.items():
        if key not in allowed:
            raise ValueError(f"{where}: unknown parameter {key!r}; known: {', '.join(allowed)}")
        out[key] = float(bool(value)) if isinstance(value, bool) else float(value)
    return out


def compile_scenario(raw: dict[str, Any], anchor: float, knobs: list[dict[str, Any]] | None = None) -> Model:
    """Turn a scenario mapping (the YAML format of sandbox/scenarios/README.md) into tracks."""
    if not isinstance(raw, dict):
        raise ValueError("scenario: expected a mapping")
    unknown = set(raw) - {
        "name",
        "description",
        "window",
        "step",
        "fine_window",
        "defaults",
        "services",
        "noise",
        "seed",
    }
    if unknown:
        raise ValueError(f"scenario: unknown key(s) {', '.join(sorted(unknown))}")
    window = parse_duration(raw.get("window", "24h"))
    origin = anchor - window
    defaults = raw.get("defaults") or {}
    services_spec = raw.get("services") or {}
    bad = set(services_spec) - {"all", *ports.SERVICES}
    if bad:
        raise ValueError(f"scenario.services: unknown service(s) {', '.join(sorted(bad))}")
    versions: list[str] = []
    for block in (defaults, *services_spec.values()):
        for key in block or {}:
            if key != "kafka" and key not in versions:
                versions.append(key)
    tracks: dict[tuple[str, str], Track] = {}
    lag: dict[str, Track] = {}
    for service in ports.SERVICES:
        for key in [*versions, "kafka"]:
            allowed = KAFKA_PARAMS if key == "kafka" else VERSION_PARAMS
            base = dict(allowed)
            segs: list[Segment] = []
            present = False
            for label, block in (
                ("defaults", defaults),
                ("services.all", services_spec.get("all")),
                (f"services.{service}", services_spec.get(service)),
            ):
                if not block or key not in block:
                    continue
                present = True
                where = f"{label}.{key}"
                params, seg_specs = _split_track(block[key], where)
                base.update(_coerce(params, allowed, where))
                for i, seg in enumerate(seg_specs):
                    if not isinstance(seg, dict):
                        raise ValueError(f"{where}.segments[{i}]: expected a mapping")
                    start = anchor + parse_duration(seg["from"]) if "from" in seg else -math.inf
                    end = anchor + parse_duration(seg["to"]) if "to" in seg else math.inf
                    if end <= start:
                        raise ValueError(f"{where}.segments[{i}]: 'to' must be after 'from'")
                    values = {k: v for k, v in seg.items() if k not in ("from", "to")}
                    segs.append(Segment(start, end, _coerce(values, allowed, f"{where}.segments[{i}]")))
            if key == "kafka":
                lag[service] = Track(base, origin, segs)
            elif present:
                noise = f"{service}/{key}/{raw.get('seed', 0)}/{anchor:.0f}" if raw.get("noise", True) else None
                tracks[(service, key)] = Track(base, origin, segs, noise_key=noise)
    model = Model(
        name=str(raw.get("name", "unnamed")),
        anchor=anchor,
        window=window,
        step=parse_duration(raw.get("step", "60s")),
        fine_window=parse_duration(raw.get("fine_window", "3h")),
        tracks=tracks,
        lag=lag,
        down={},
        versions=versions,
    )
    apply_knobs(model, knobs or [])
    return model


def _neutral(snapshot: dict[str, Any]) -> bool:
    return not any(snapshot.get(k) for k in KNOB_FIELDS)


def apply_knobs(model: Model, history: list[dict[str, Any]]) -> None:
    """Overlay the knob history (state snapshots with a ``since`` time) on the scenario."""
    by_key: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for snap in history:
        by_key.setdefault((snap["service"], snap.get("version") or "*"), []).append(snap)
    # "*" first so that a version-specific knob wins where both apply
    for (service, version), snaps in sorted(by_key.items(), key=lambda kv: kv[0][1] != "*"):
        snaps.sort(key=lambda s: s["since"])
        for i, snap in enumerate(snaps):
            if _neutral(snap):
                continue
            start = float(snap["since"])
            end = float(snaps[i + 1]["since"]) if i + 1 < len(snaps) else math.inf
            if snap.get("down"):
                model.down.setdefault(service, []).append((start, end))
            targets = [v for v in model.versions if version in ("*", v) and (service, v) in model.tracks]
            for v in targets:
                track = model.tracks[(service, v)]
                params = track.params_at(start)
                values: dict[str, float] = {}
                if snap.get("error_rate") is not None and float(snap["error_rate"]) > 0:
                    values["error_pct"] = float(snap["error_rate"]) * 100
                if snap.get("latency_ms"):
                    extra = float(snap["latency_ms"])
                    values.update(
                        p50_ms=params["p50_ms"] + extra,
                        p95_ms=params["p95_ms"] + extra,
                        p99_ms=params["p99_ms"] + extra,
                    )
                if values:
                    track.segments.append(Segment(start, end, values))
                    track._intervals = None
                    track._blocks.clear()
                if snap.get("crash"):
                    track.crash.append((start, end))


# -- exposition ---------------------------------------------------------------------------------
def _fmt(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(round(value, 6))


def _labels(**labels: str) -> str:
    return ",".join(f'{k}="{v}"' for k, v in labels.items())


def version_samples(service: str, version: str, track: Track, t: float, extra: str = "") -> list[tuple[str, float]]:
    """Every (series, value) of one service version at time t; ``extra`` prefixes more labels."""
    params = track.params_at(t)
    if params.get("absent") or track.crash_down(t):
        return []
    restart = track.last_restart(t)
    cum = track.cumulative(t)
    if restart > track.origin:
        at_restart = track.cumulative(restart)
        cum = [a - b for a, b in zip(cum, at_restart, strict=True)]
    total = math.floor(cum[0] + 1e-9)
    errors = min(math.floor(cum[1] + 1e-9), total)
    sv = f'{extra}service="{service}",version="{version}"'
    out: list[tuple[str, float]] = [
        (f'http_requests_total{{{sv},status="200"}}', total - errors),
        (f'http_requests_total{{{sv},status="500"}}', errors),
    ]
    for le, value in zip(LE_LABELS[:-1], cum[2:-1], strict=True):
        out.append((f'http_request_duration_seconds_bucket{{{sv},le="{le}"}}', min(math.floor(value + 1e-9), total)))
    out.append((f'http_request_duration_seconds_bucket{{{sv},le="+Inf"}}', total))
    out.append((f"http_request_duration_seconds_sum{{{sv}}}", round(cum[-1], 3)))
    out.append((f"http_request_duration_seconds_count{{{sv}}}", total))
    memory = params["memory_mb"] + params["memory_slope_mb_per_h"] * (t - params["_memory_origin"]) / 3600
    cpu = params["cpu_pct"]
    if track.noise_key is not None:  # gauges wander per scrape like a real process's (GC, load)
        cpu *= 1.0 + CPU_NOISE * gauge_noise(track.noise_key, "cpu", t)
        memory *= 1.0 + MEMORY_NOISE * gauge_noise(track.noise_key, "memory", t)
    out.append((f"process_cpu_usage_ratio{{{sv}}}", round(min(max(cpu, 0.0), 100.0) / 100, 6)))
    out.append((f"process_resident_memory_bytes{{{sv}}}", round(max(memory, 0.0) * MIB)))
    out.append((f"container_memory_limit_bytes{{{sv}}}", round(params["memory_limit_mb"] * MIB)))
    out.append((f"process_start_time_seconds{{{sv}}}", round(restart, 3)))
    return out


def lag_samples(service: str, track: Track, t: float, extra: str = "") -> list[tuple[str, float]]:
    value = max(track.params_at(t)["lag"], 0.0)
    return [
        (
            f'kafka_consumergroup_lag{{{extra}service="{service}",group="{kafka_group(service)}"}}',
            round(value),
        )
    ]


_HELP = {
    "http_requests_total": ("counter", "HTTP requests served, by status"),
    "http_request_duration_seconds": ("histogram", "HTTP request latency"),
    "process_cpu_usage_ratio": ("gauge", "CPU used as a fraction of the container limit"),
    "process_resident_memory_bytes": ("gauge", "Resident memory"),
    "container_memory_limit_bytes": ("gauge", "Container memory limit"),
    "process_start_time_seconds": ("gauge", "Start time of the process (unix seconds)"),
    "kafka_consumergroup_lag": ("gauge", "Consumer group lag (messages)"),
}


def render_metrics(model: Model, service: str, t: float) -> str:
    """The /metrics page of one service at time t (text format 0.0.4)."""
    samples: list[tuple[str, float]] = []
    for version, track in model.service_tracks(service):
        samples.extend(version_samples(service, version, track, t))
    # consumer lag is not the services' to invent: the lag exporter reads it from the brokers'
    # offsets (nova_gate/sandbox/streams.py); the scenario's kafka.lag only shapes the backfilled past
    families: dict[str, list[str]] = {}
    for series, value in samples:
        name = series.split("{", 1)[0]
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name.startswith("http_request_duration") else name
        families.setdefault(family, []).append(f"{series} {_fmt(value)}")
    lines: list[str] = []
    for family, rows in families.items():
        kind, text = _HELP.get(family, ("gauge", family))
        lines += [f"# HELP {family} {text}", f"# TYPE {family} {kind}", *rows]
    return "\n".join(lines) + "\n"


# -- active scenario ----------------------------------------------------------------------------
class State:
    """The compiled model, rebuilt when the scenario or knob file changes."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._stamp: tuple[float, float] | None = None
        self.model = compile_scenario(DEFAULT_SCENARIO, time.time())
        self.knob_history: list[dict[str, Any]] = []
        self.scenario_meta: dict[str, Any] = {"name": DEFAULT_SCENARIO["name"], "anchor": self.model.anchor}

    @staticmethod
    def _mtime(path: Path) -> float:
        try:
            return path.stat().st_mtime_ns / 1e9
        except OSError:
            return 0.0

    def current(self) -> Model:
        stamp = (self._mtime(scenario_file()), self._mtime(knobs_file()))
        if stamp == self._stamp:
            return self.model
        with self.lock:
            if stamp != self._stamp:
                self._reload()
                self._stamp = stamp
        return self.model

    def _reload(self) -> None:
        knobs: list[dict[str, Any]] = []
        with contextlib.suppress(OSError, ValueError):
            knobs = json.loads(knobs_file().read_text()).get("history", [])
        raw, anchor = DEFAULT_SCENARIO, self.scenario_meta.get("anchor", time.time())
        try:
            data = json.loads(scenario_file().read_text())
            raw, anchor = data["scenario"], float(data["anchor"])
        except (OSError, ValueError, KeyError) as exc:
            if scenario_file().exists():
                print(f"nova-sim: cannot read {scenario_file()}: {exc}; keeping the default", flush=True)
        try:
            self.model = compile_scenario(raw, anchor, knobs)
        except (ValueError, KeyError, TypeError) as exc:
            print(f"nova-sim: bad scenario: {exc}; keeping the previous one", flush=True)
            return
        self.knob_history = knobs
        self.scenario_meta = {"name": self.model.name, "anchor": anchor}
        print(f"nova-sim: scenario {self.model.name!r} anchor={anchor:.0f} knobs={len(knobs)}", flush=True)

    def knob_state(self) -> dict[str, dict[str, Any]]:
        """The latest snapshot per (service, version) key."""
        latest: dict[str, dict[str, Any]] = {}
        for snap in sorted(self.knob_history, key=lambda s: s["since"]):
            latest[f"{snap['service']}/{snap.get('version') or '*'}"] = snap
        return {k: v for k, v in latest.items() if not _neutral(v)}

    def set_knob(self, body: dict[str, Any]) -> dict[str, Any]:
        service = body.get("service")
        if service not in ports.SERVICES:
            raise ValueError(f"unknown service {service!r}")
        version = body.get("version") or "*"
        unknown = set(body) - {"service", "version", *KNOB_FIELDS}
        if unknown:
            raise ValueError(f"unknown knob(s) {', '.join(sorted(unknown))}; known: {', '.join(KNOB_FIELDS)}")
        with self.lock:
            previous = next(
                (
                    s
                    for s in sorted(self.knob_history, key=lambda s: s["since"], reverse=True)
                    if s["service"] == service and (s.get("version") or "*") == version
                ),
                {},
            )
            snap = {"service": service, "version": version, "since": time.time()}
            for key in KNOB_FIELDS:
                snap[key] = body[key] if key in body else previous.get(key)
            self.knob_history.append(snap)
            self._write_knobs()
        self.current()
        return snap

    def reset_knobs(self) -> None:
        with self.lock:
            now = time.time()
            for key in list(self.knob_state()):
                service, version = key.split("/", 1)
                self.knob_history.append({"service": service, "version": version, "since": now})
            self._write_knobs()
        self.current()

    def _write_knobs(self) -> None:
        path = knobs_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"history": self.knob_history}, indent=1))
        tmp.replace(path)

    def live_knob(self, service: str, version: str | None = None) -> dict[str, Any]:
        state = self.knob_state()
        merged: dict[str, Any] = {}
        for key in (f"{service}/*", f"{service}/{version}" if version else ""):
            merged.update({k: v for k, v in state.get(key, {}).items() if v is not None})
        return merged


STATE: State | None = None


def state() -> State:
    global STATE
    if STATE is None:
        STATE = State()
    return STATE


# -- JWT (RS256 with cryptography) --------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _int_b64(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


class KeyRing:
    """Signing key generated at startup, plus an optional published "next" key (rotation overlap)."""

    ISSUER = os.environ.get("JWT_ISSUER", "https://auth.nova.sandbox")
    AUDIENCE = "nova-api"
    TTL = 3600

    def __init__(self, key_file: Path | None = None) -> None:
        # The signing key survives restarts (a restart is not a key rotation: PRE-CFG-3 would see the
        # old key withdrawn); it lives in the sandbox's git-ignored state, never in the repository.
        self.current = self._load_or_create(key_file) if key_file is not None else self._new_key()
        self.next: Any = None
        self.retired: Any = None  # the key a rotation without overlap withdrew (fault undo)

    @classmethod
    def _load_or_create(cls, path: Path) -> Any:
        from cryptography.hazmat.primitives import serialization

        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            return cls._entry(key)
        entry = cls._new_key()
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = entry["key"].private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        return entry

    @staticmethod
    def _new_key() -> Any:
        from cryptography.hazmat.primitives.asymmetric import rsa

        return KeyRing._entry(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @staticmethod
    def _entry(key: Any) -> Any:
        numbers = key.public_key().public_numbers()
        jwk = {"e": _int_b64(numbers.e), "kty": "RSA", "n": _int_b64(numbers.n)}
        kid = _b64(hashlib.sha256(json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode()).digest())[:16]
        return {"key": key, "kid": kid, "jwk": {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}}

    def set_next(self, enabled: bool) -> None:
        self.next = self._new_key() if enabled and self.next is None else (self.next if enabled else None)

    def rotate_without_overlap(self) -> None:
        """Sign with a brand-new key and withdraw the current one at once (the PRE-CFG-3 fault)."""
        if self.retired is None:
            self.retired, self.current, self.next = self.current, self._new_key(), None

    def restore(self) -> None:
        """Undo :meth:`rotate_without_overlap`: the withdrawn key signs and is published again alone."""
        if self.retired is not None:
            self.current, self.retired, self.next = self.retired, None, None

    def jwks(self) -> dict[str, Any]:
        keys = [self.current["jwk"]] + ([self.next["jwk"]] if self.next else [])
        return {"keys": keys}

    def sign(self, claims: dict[str, Any]) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        header = {"alg": "RS256", "typ": "JWT", "kid": self.current["kid"]}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        sig = self.current["key"].sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64(sig)}"

    def verify(self, token: str) -> dict[str, Any]:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        try:
            head_b64, body_b64, sig_b64 = token.split(".")
            header = json.loads(_unb64(head_b64))
            claims = json.loads(_unb64(body_b64))
        except ValueError as exc:
            raise PermissionError("malformed token") from exc
        if header.get("alg") != "RS256":
            raise PermissionError("unsupported alg")
        keys = {k["kid"]: k for k in (self.current, self.next) if k}
        entry = keys.get(header.get("kid"))
        if entry is None:
            raise PermissionError("unknown kid")
        try:
            entry["key"].public_key().verify(
                _unb64(sig_b64), f"{head_b64}.{body_b64}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except InvalidSignature as exc:
            raise PermissionError("bad signature") from exc
        if claims.get("exp", 0) < time.time() or claims.get("iss") != self.ISSUER:
            raise PermissionError("expired or foreign token")
        if not isinstance(claims, dict):
            raise PermissionError("malformed claims")
        return claims


# -- database and cache -------------------------------------------------------------------------
def _ca_file() -> str:
    from nova_gate.sandbox.base import state_dir

    return str(state_dir() / "pki" / "ca.crt")


PG_DSN = os.environ.get(
    "NOVA_SIM_PG_DSN",
    f"host=127.0.0.1 port={ports.POSTGRES_PRIMARY} dbname=nova user=nova_smoke "
    "password=sandbox-smoke-secret connect_timeout=3 application_name=nova-sim "
    f"sslmode=verify-full sslrootcert={_ca_file()}",
)
#: the app's own Redis account (nova_gate/sandbox/identities.py), over TLS
REDIS_URL = os.environ.get("NOVA_SIM_REDIS_URL", f"rediss://127.0.0.1:{ports.REDIS}/0")


class Pool:
    """A tiny thread-safe psycopg connection pool (autocommit connections, statement timeout)."""

    def __init__(self, dsn: str, size: int = 8) -> None:
        self.dsn = dsn
        self.idle: queue.LifoQueue[Any] = queue.LifoQueue(maxsize=size)

    @contextlib.contextmanager
    def connection(self) -> Any:
        import psycopg

        try:
            conn = self.idle.get_nowait()
        except queue.Empty:
            conn = psycopg.connect(self.dsn, autocommit=True, options="-c statement_timeout=5000")
        ok = False
        try:
            yield conn
            ok = True
        finally:
            if ok and not conn.closed and conn.info.transaction_status == 0:
                try:
                    self.idle.put_nowait(conn)
                except queue.Full:
                    conn.close()
            else:
                with contextlib.suppress(Exception):
                    conn.close()


class Backends:
    def __init__(self) -> None:
        self.pool = Pool(PG_DSN)
        self._redis: Any = None
        self.keys = KeyRing(state_root() / "jwt-signing-key.pem")

    @property
    def redis(self) -> Any:
        if self._redis is None:
            import redis

            from nova_gate.sandbox.identities import REDIS_APP

            self._redis = redis.Redis.from_url(
                REDIS_URL,
                socket_timeout=2,
                socket_connect_timeout=2,
                username=REDIS_APP.user,
                password=REDIS_APP.password,
                **({"ssl_ca_certs": _ca_file()} if REDIS_URL.startswith("rediss://") else {}),
            )
        return self._redis


BACKENDS: Backends | None = None


def backends() -> Backends:
    global BACKENDS
    if BACKENDS is None:
        BACKENDS = Backends()
    return BACKENDS


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 20_000)
    return f"pbkdf2_sha256$20000${_b64(salt)}${_b64(digest)}"


def check_password(password: str, stored: str) -> bool:
    try:
        algo, iterations, salt, digest = stored.split("$")
    except ValueError:
        return False
    if algo != "pbkdf2_sha256":
        return False
    candidate = hashlib.pbkdf2_hmac("sha256", password.encode(), _unb64(salt), int(iterations))
    return hmac.compare_digest(candidate, _unb64(digest))


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# -- HTTP -----------------------------------------------------------------------------------------
_CONV_MSG = re.compile(r"^/api/v1/conversations/([0-9a-fA-F-]{36})/messages$")


class ServiceHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    service = ""
    server_version = "nova-sim/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: Prometheus scrapes a lot
        if os.environ.get("NOVA_SIM_ACCESS_LOG"):
            super().log_message(format, *args)

    # plumbing
    def _send(self, status: int, body: Any, content_type: str = "application/json", close: bool = False) -> None:
        data = (
            body if isinstance(body, bytes) else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
        )
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _json_body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > 1_000_000:
            raise ApiError(413, "body too large")
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ApiError(400, "invalid JSON body") from exc
        if not isinstance(data, dict):
            raise ApiError(400, "expected a JSON object")
        return data

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_HEAD(self) -> None:
        self._dispatch("GET")

    def _dispatch(self, method: str) -> None:
        path = urlsplit(self.path).path
        st = state()
        model = st.current()
        now = time.time()
        if model.is_down(self.service, now):
            # drain the body so the client sees the answer, then close: the target is down
            with contextlib.suppress(Exception):
                length = int(self.headers.get("Content-Length") or 0)
                if 0 < length <= 1_000_000:
                    self.rfile.read(length)
            self._send(503, {"status": "down", "service": self.service}, close=True)
            return
        try:
            if method == "GET" and path == "/metrics":
                self._send(200, render_metrics(model, self.service, now), "text/plain; version=0.0.4")
                return
            if method == "GET" and path in ("/api/v1/health", "/api/v1/health/live", "/api/v1/health/ready"):
                self._health(model, path, now)
                return
            self._api(method, path, st)
        except ApiError as exc:
            self._send(exc.status, {"error": str(exc)})
        except Exception as exc:  # an API bug must answer 500, not hang the client
            print(f"nova-sim: {self.service} {method} {path}: {type(exc).__name__}: {exc}", flush=True)
            self._send(500, {"error": "internal error"})

    def _health(self, model: Model, path: str, now: float) -> None:
        versions = {
            v: ("crashloop" if t.crash_down(now) else "up")
            for v, t in model.service_tracks(self.service)
            if not t.params_at(now).get("absent")
        }
        healthy = all(s == "up" for s in versions.values())
        kind = path.rsplit("/", 1)[-1]
        body = {
            "status": "ok" if healthy else "unavailable",
            "service": self.service,
            "check": "health" if kind == "health" else kind,
            "versions": versions,
            "scenario": model.name,
        }
        self._send(200 if healthy else 503, body)

    # smoke API ----------------------------------------------------------------------------------
    def _api(self, method: str, path: str, st: State) -> None:
        knob = st.live_knob(self.service)
        if knob.get("latency_ms"):
            time.sleep(min(float(knob["latency_ms"]), 30_000) / 1000)
        if knob.get("error_rate") and secrets.randbelow(1_000_000) < float(knob["error_rate"]) * 1_000_000:
            raise ApiError(500, "injected error")
        be = backends()
        if method == "GET" and path == "/.well-known/jwks.json":
            self._send(200, be.keys.jwks())
        elif method == "POST" and path == "/api/v1/auth/register":
            self._register(be, self._json_body())
        elif method == "POST" and path == "/api/v1/auth/login":
            self._login(be, self._json_body())
        elif method == "GET" and path == "/api/v1/feed":
            self._feed(be, self._authenticate(be))
        elif method == "POST" and path == "/api/v1/conversations":
            user = self._authenticate(be)
            self._create_conversation(be, user, self._json_body())
        elif method == "POST" and (m := _CONV_MSG.match(path)):
            user = self._authenticate(be)
            self._post_message(be, user, m.group(1), self._json_body())
        elif method == "GET" and path == "/":
            self._send(200, {"service": self.service})
        else:
            raise ApiError(404, f"no route {method} {path}")

    @staticmethod
    def _db_error(exc: Exception) -> ApiError:
        return ApiError(503, f"database unavailable: {type(exc).__name__}")

    def _register(self, be: Backends, body: dict[str, Any]) -> None:
        import psycopg

        email, username, password = (str(body.get(k) or "") for k in ("email", "username", "password"))
        if "@" not in email or not (3 <= len(username) <= 64) or len(password) < 6:
            raise ApiError(400, "email, username (3-64 chars) and password (>= 6 chars) are required")
        try:
            with be.pool.connection() as conn:
                row = conn.execute(
                    "INSERT INTO users (email, username, password_hash, created_at)"
                    " VALUES (%s, %s, %s, now()) RETURNING id",
                    (email, username, hash_password(password)),
                ).fetchone()
        except psycopg.errors.UniqueViolation as exc:
            raise ApiError(409, "email or username already registered") from exc
        except psycopg.Error as exc:
            raise self._db_error(exc) from exc
        self._send(201, {"id": row[0], "email": email, "username": username})

    def _login(self, be: Backends, body: dict[str, Any]) -> None:
        import psycopg

        email, password = str(body.get("email") or ""), str(body.get("password") or "")
        try:
            with be.pool.connection() as conn:
                row = conn.execute("SELECT id, password_hash FROM users WHERE email = %s", (email,)).fetchone()
                if row is None or not check_password(password, row[1]):
                    raise ApiError(401, "invalid credentials")
                session_id = uuid.uuid4()
                conn.execute(
                    "INSERT INTO sessions (id, user_id, created_at, expires_at)"
                    " VALUES (%s, %s, now(), now() + make_interval(secs => %s))",
                    (session_id, row[0], KeyRing.TTL),
                )
        except psycopg.Error as exc:
            raise self._db_error(exc) from exc
        with contextlib.suppress(Exception):  # the cache is an optimisation; the DB is the truth
            be.redis.set(f"nova:session:{session_id}", json.dumps({"user_id": row[0]}), ex=KeyRing.TTL)
        now = int(time.time())
        claims = {
            "iss": KeyRing.ISSUER,
            "aud": KeyRing.AUDIENCE,
            "sub": str(row[0]),
            "sid": str(session_id),
            "iat": now,
            "exp": now + KeyRing.TTL,
            "jti": uuid.uuid4().hex,
        }
        self._send(200, {"access_token": be.keys.sign(claims), "token_type": "Bearer", "expires_in": KeyRing.TTL})

    def _authenticate(self, be: Backends) -> int:
        import psycopg

        auth = self.headers.get("Authorization") or ""
        if not auth.startswith("Bearer "):
            raise ApiError(401, "missing bearer token")
        try:
            claims = be.keys.verify(auth[7:].strip())
        except PermissionError as exc:
            raise ApiError(401, f"invalid token: {exc}") from exc
        sid = str(claims.get("sid", ""))
        with contextlib.suppress(Exception):
            cached = be.redis.get(f"nova:session:{sid}")
            if cached:
                return int(json.loads(cached)["user_id"])
        try:
            with be.pool.connection() as conn:
                row = conn.execute(
                    "SELECT user_id FROM sessions WHERE id = %s AND expires_at > now()", (uuid.UUID(sid),)
                ).fetchone()
        except ValueError as exc:
            raise ApiError(401, "invalid session") from exc
        except psycopg.Error as exc:
            raise self._db_error(exc) from exc
        if row is None:
            raise ApiError(401, "session expired")
        with contextlib.suppress(Exception):
            be.redis.set(f"nova:session:{sid}", json.dumps({"user_id": row[0]}), ex=300)
        return int(row[0])

    def _feed(self, be: Backends, user_id: int) -> None:
        import psycopg

        try:
            with be.pool.connection() as conn:
                rows = conn.execute(
                    "SELECT p.id, p.author_id, p.body, f.score, p.created_at FROM feed_items f"
                    " JOIN posts p ON p.id = f.post_id WHERE f.user_id = %s"
                    " ORDER BY f.score DESC, f.created_at DESC LIMIT 50",
                    (user_id,),
                ).fetchall()
        except psycopg.Error as exc:
            raise self._db_error(exc) from exc
        items = [
            {
                "post_id": r[0],
                "author_id": r[1],
                "body": r[2],
                "score": float(r[3]),
                "created_at": r[4].isoformat(),
            }
            for r in rows
        ]
        self._send(200, items)

    def _create_conversation(self, be: Backends, user_id: int, body: dict[str, Any]) -> None:
        import psycopg

        members = {user_id}
        for m in body.get("members") or []:
            try:
                members.add(int(m))
            except (TypeError, ValueError) as exc:
                raise ApiError(400, "members must be user ids") from exc
        conv_id = uuid.uuid4()
        try:
            with be.pool.connection() as conn, conn.transaction():
                conn.execute("INSERT INTO conversations (id, created_at) VALUES (%s, now())", (conv_id,))
                for m in sorted(members):
                    conn.execute(
                        "INSERT INTO conversation_members (conversation_id, user_id) VALUES (%s, %s)",
                        (conv_id, m),
                    )
        except psycopg.errors.ForeignKeyViolation as exc:
            raise ApiError(400, "unknown member") from exc
        except psycopg.Error as exc:
            raise self._db_error(exc) from exc
        self._send(201, {"id": str(conv_id), "members": sorted(members)})

    def _post_message(self, be: Backends, user_id: int, conv: str, body: dict[str, Any]) -> None:
        import psycopg

        content = body.get("content")
        if not isinstance(content, str) or not content.strip():
            raise ApiError(400, "content is required")
        try:
            conv_id = uuid.UUID(conv)
            with be.pool.connection() as conn:
                member = conn.execute(
                    "SELECT 1 FROM conversation_members WHERE conversation_id = %s AND user_id = %s",
                    (conv_id, user_id),
                ).fetchone()
                if member is None:
                    exists = conn.execute("SELECT 1 FROM conversations WHERE id = %s", (conv_id,)).fetchone()
                    raise ApiError(403 if exists else 404, "not a member" if exists else "no such conversation")
                row = conn.execute(
                    "INSERT INTO messages (conversation_id, sender_id, content, created_at)"
                    " VALUES (%s, %s, %s, now()) RETURNING id, created_at",
                    (conv_id, user_id, content),
                ).fetchone()
        except psycopg.Error as exc:
            raise self._db_error(exc) from exc
        self._send(
            201,
            {
                "id": row[0],
                "conversation_id": str(conv_id),
                "sender_id": user_id,
                "content": content,
                "created_at": row[1].isoformat(),
            },
        )


class AdminHandler(ServiceHandler):
    """Port 58099: runtime knobs (faults use them), key rotation, the active scenario."""

    def _dispatch(self, method: str) -> None:
        path = urlsplit(self.path).path
        st = state()
        try:
            if path == "/admin/knobs" and method == "GET":
                self._send(200, st.knob_state())
            elif path == "/admin/knobs" and method == "POST":
                self._send(200, st.set_knob(self._json_body()))
            elif path == "/admin/knobs/reset" and method == "POST":
                st.reset_knobs()
                self._send(200, st.knob_state())
            elif path == "/admin/jwks" and method == "POST":
                body = self._json_body()
                ring = backends().keys
                if body.get("rotate") == "without-overlap":
                    ring.rotate_without_overlap()
                elif body.get("restore"):
                    ring.restore()
                else:
                    ring.set_next(bool(body.get("next")))
                self._send(200, backends().keys.jwks())
            elif path == "/admin/scenario" and method == "GET":
                model = st.current()
                self._send(200, {**st.scenario_meta, "versions": model.versions})
            elif path in ("/admin/health", "/") and method == "GET":
                self._send(200, {"status": "ok", "pid": os.getpid()})
            else:
                raise ApiError(404, f"no route {method} {path}")
        except ApiError as exc:
            self._send(exc.status, {"error": str(exc)})
        except (ValueError, TypeError) as exc:
            self._send(400, {"error": str(exc)})

    def do_DELETE(self) -> None:
        if urlsplit(self.path).path == "/admin/knobs":
            state().reset_knobs()
            self._send(200, {})
        else:
            self._send(404, {"error": "no route"})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


def serve() -> None:
    state().current()
    servers: list[Server] = []
    for service, port in ports.SERVICES.items():
        handler = type(f"Handler_{port}", (ServiceHandler,), {"service": service})
        servers.append(Server((ports.HOST, port), handler))
    servers.append(Server((ports.HOST, ADMIN_PORT), AdminHandler))
    threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.5}, daemon=True) for s in servers]
    for th in threads:
        th.start()
    print(
        f"nova-sim: pid {os.getpid()} serving {len(ports.SERVICES)} services and admin :{ADMIN_PORT}",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        for s in servers:
            s.shutdown()


if __name__ == "__main__":
    serve()
