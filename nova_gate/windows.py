"""Metric windows for the gates: one range query per metric and window, shared by every service.

The gates are parametrized per service, but a canary gate over 11 services must cost a constant
number of Prometheus queries: every query is grouped ``by (service, version)`` and cached here for
the session, and each test picks its (service, version) series out of the shared answer.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from nova_gate.config import Environment
from nova_gate.rules.metrics import BucketCounts, CountRules, Series, WindowCounts

Key = tuple[str, ...]


def step_for(window_s: float) -> float:
    """15 s (the scrape interval) up to 3 h windows, then coarser to stay under ~1000 points."""
    return max(15.0, round(window_s / 1000 / 15) * 15)


@dataclass
class MetricWindows:
    """Cached range queries: ``series(metric, window_min)`` -> {(service, version): samples}."""

    prometheus: Any
    env: Environment
    end: float = field(default_factory=time.time)
    _cache: dict[tuple[str, float], dict[Key, list[tuple[float, float | None]]]] = field(
        default_factory=dict
    )  # (query, window)
    _instant: dict[tuple[str, float], dict[Key, float | None]] = field(default_factory=dict)
    _counts: dict[tuple[str, float], dict[Key, list[tuple[float, float | None]]]] = field(default_factory=dict)

    def query(self, metric: str, smooth: bool = False, rate: str | None = None) -> str:
        """The PromQL of a metric; percentiles always, other metrics when ``smooth``, on the long rate."""
        m = self.env.metrics
        template = {
            "error_rate": m.error_rate_pct,
            "p50": m.latency_ms,
            "p95": m.latency_ms,
            "p99": m.latency_ms,
            "cpu": m.cpu_pct,
            "memory": m.memory_pct,
            "memory_bytes": m.memory_bytes,
        }[metric]
        quantile = {"p50": 0.5, "p95": 0.95, "p99": 0.99}.get(metric, 0)
        rate = rate or (m.smooth_rate_window if (smooth or quantile) else m.rate_window)
        return template.format(rate=rate, q=quantile)

    def series(
        self, metric: str, window_min: float, smooth: bool = False, rate: str | None = None
    ) -> dict[Key, list[tuple[float, float | None]]]:
        key = (self.query(metric, smooth, rate), window_min)
        if key not in self._cache:
            window_s = window_min * 60
            expect = [
                (s, v)
                for s in self.env.service_names
                for v in (self.env.release.version, self.env.release.baseline_version)
            ]
            self._cache[key] = self.prometheus.range_by(
                key[0], self.end - window_s, self.end, step_for(window_s), expect=expect
            )
        return self._cache[key]

    def requests(self, window_min: float) -> dict[Key, float | None]:
        key = ("requests", window_min)
        if key not in self._instant:
            query = self.env.metrics.requests.format(window=f"{round(window_min * 60)}s")
            self._instant[key] = self.prometheus.instant_by(query, at=self.end)
        return self._instant[key]

    def for_version(
        self,
        metric: str,
        window_min: float,
        version: str,
        services: list[str] | None = None,
        rate: str | None = None,
    ) -> dict[str, Series]:
        """{service: series} of one version (missing services present with no samples)."""
        data = self.series(metric, window_min, rate=rate)
        names = services if services is not None else self.env.service_names
        return {s: data.get((s, version), []) for s in names}

    @property
    def queries(self) -> int:
        return len(self._cache) + len(self._instant) + len(self._counts)

    # -- counts (issue 10): sliding-window increases at every step ------------------------------------
    def count_query(self, which: str) -> str:
        m = self.env.metrics
        template = {"requests": m.requests_increase, "errors": m.errors_increase, "buckets": m.buckets_increase}
        return template[which].format(window=m.count_window)

    def rules(self, window_min: float) -> CountRules:
        m, t = self.env.metrics, self.env.thresholds
        return CountRules(
            window_s=duration_s(m.count_window),
            sustain_s=t.sustain_min * 60,
            step_s=step_for(window_min * 60),
            max_gap_scrapes=m.max_gap_scrapes,
            alpha=1 - m.confidence,
            min_coverage=m.min_coverage,
        )

    def _range(self, which: str, window_min: float, by: tuple[str, ...]) -> dict[Key, list[tuple[float, float | None]]]:
        key = (self.count_query(which), window_min)
        if key not in self._counts:
            window_s = window_min * 60
            self._counts[key] = self.prometheus.range_by(
                key[0], self.end - window_s, self.end, step_for(window_s), by=by
            )
        return self._counts[key]

    def grid(self, window_min: float) -> list[float]:
        window_s = window_min * 60
        step = step_for(window_s)
        start = self.end - window_s
        return [start + k * step for k in range(math.floor(window_s / step + 1e-9) + 1)]

    def error_counts(
        self, window_min: float, version: str, services: list[str] | None = None
    ) -> dict[str, WindowCounts]:
        """{service: errors and requests per sliding window} of one version (no samples: all None)."""
        requests = self._range("requests", window_min, ("service", "version"))
        errors = self._range("errors", window_min, ("service", "version"))
        grid = self.grid(window_min)
        out: dict[str, WindowCounts] = {}
        for service in services if services is not None else self.env.service_names:
            n = dict(requests.get((service, version), []))
            e = dict(errors.get((service, version), []))
            out[service] = WindowCounts(grid, [e.get(t) for t in grid], [n.get(t) for t in grid])
        return out

    def bucket_counts(
        self, window_min: float, version: str, services: list[str] | None = None
    ) -> dict[str, BucketCounts]:
        """{service: cumulative histogram counts per sliding window} of one version."""
        raw = self._range("buckets", window_min, ("service", "version", "le"))
        grid = self.grid(window_min)
        out: dict[str, BucketCounts] = {}
        for service in services if services is not None else self.env.service_names:
            per_le: dict[float, dict[float, float | None]] = {}
            for (svc, ver, le), samples in raw.items():
                if svc == service and ver == version:
                    try:
                        bound = float(le)
                    except ValueError:
                        continue
                    per_le[bound] = dict(samples)
            finite = sorted(b for b in per_le if b != float("inf"))
            cum: list[list[float] | None] = []
            for t in grid:
                row = [per_le[b].get(t) for b in finite]
                top = per_le.get(float("inf"), {}).get(t)
                cum.append(
                    None
                    if top is None or any(v is None for v in row)
                    else [*(float(v) for v in row if v is not None), float(top)]
                )
            out[service] = BucketCounts(grid, finite, cum)
        return out


def duration_s(text: str) -> float:
    """A Prometheus duration ("5m", "90s", "1h") in seconds."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    for suffix in ("ms", "s", "m", "h", "d", "w"):
        if text.endswith(suffix) and text[: -len(suffix)].replace(".", "", 1).isdigit():
            return float(text[: -len(suffix)]) * units[suffix]
    raise ValueError(f"not a duration: {text!r}")


def day_buckets_query(env: Environment, window_h: float) -> str:
    """Histogram bucket increases of every (service, version) over ``window_h`` hours (an instant query)."""
    return env.metrics.buckets_increase.format(window=f"{round(window_h * 3600)}s")


def release_start(prometheus: Any, env: Environment, lookback_h: float, end: float) -> float | None:
    """When the new version first served (first sample within the lookback), or None if it never did."""
    query = f'count by (version) (http_requests_total{{version="{env.release.version}"}})'
    step = max(60.0, lookback_h * 3600 / 1000)
    found = prometheus.range_by(query, end - lookback_h * 3600, end, step, by=("version",))
    samples = found.get((env.release.version,), [])
    first = next((ts for ts, v in samples if v is not None), None)
    return first
