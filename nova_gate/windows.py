"""Metric windows for the gates: one range query per metric and window, shared by every service.

The gates are parametrized per service, but a canary gate over 11 services must cost a constant
number of Prometheus queries: every query is grouped ``by (service, version)`` and cached here for
the session, and each test picks its (service, version) series out of the shared answer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from nova_gate.config import Environment
from nova_gate.rules.metrics import Series

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
        return len(self._cache) + len(self._instant)
