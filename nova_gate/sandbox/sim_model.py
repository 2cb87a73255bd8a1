"""The simulator's metric model: a scenario (sandbox/scenarios/README.md) compiled into per-service,
per-version tracks, the knobs applied on top, realistic counts drawn per scrape slot, and the
Prometheus exposition of it. Shared by the live simulator (``nova_sim``) and the history backfill
(``history``), so backfilled and scraped samples form one series.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nova_gate.sandbox import ports

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
