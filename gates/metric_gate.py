"""The few lines every metric gate shares: judge one metric of one version over a window."""

from __future__ import annotations

from typing import Any

from nova_gate.charts import line_chart
from nova_gate.rules.metrics import relative_to_baseline, windowed_threshold
from nova_gate.verdict import Verdict
from nova_gate.windows import step_for

UNITS = {"error_rate": "%", "p50": " ms", "p95": " ms", "p99": " ms", "cpu": "%", "memory": "%"}
NAMES = {"error_rate": "error rate", "p50": "P50", "p95": "P95", "p99": "P99", "cpu": "CPU", "memory": "memory"}


def threshold_verdict(
    windows: Any,
    gate: Any,
    metric: str,
    window_min: float,
    threshold: float,
    services: list[str],
    version: str | None = None,
) -> Verdict:
    env = windows.env
    version = version or env.release.version
    series = windows.for_version(metric, window_min, version, services)
    step = step_for(window_min * 60)
    verdict = windowed_threshold(
        f"{NAMES[metric]} of {version}",
        series,
        threshold,
        env.thresholds.sustain_min * 60,
        step,
        window_min * 60,
        env.metrics.min_coverage,
        UNITS[metric],
    )
    gate.evidence(
        source="prometheus",
        query=windows.query(metric),
        window_min=window_min,
        step_s=step,
        version=version,
        threshold=threshold,
        sustain_min=env.thresholds.sustain_min,
        end=windows.end,
        prometheus_queries_so_far=windows.queries,
        chart_svg=line_chart(
            {s: pts for s, pts in verdict.details.get("series", {}).items()},
            threshold,
            f"{NAMES[metric]} {version}, last {window_min:g} min",
            UNITS[metric],
            sustain_s=env.thresholds.sustain_min * 60,
            step_s=step,
        ),
    )
    return verdict


def relative_verdict(
    windows: Any, gate: Any, metric: str, window_min: float, service: str, max_ratio: float, floor: float
) -> Verdict:
    env = windows.env
    new, old = env.release.version, env.release.baseline_version
    series = windows.series(metric, window_min, smooth=True)
    requests = windows.requests(window_min)
    step = step_for(window_min * 60)
    verdict = relative_to_baseline(
        f"{NAMES[metric]} of {service}",
        series.get((service, new), []),
        series.get((service, old), []),
        max_ratio,
        floor,
        env.thresholds.min_requests,
        requests.get((service, new)),
        requests.get((service, old)),
        env.thresholds.sustain_min * 60,
        step,
        UNITS[metric],
    )
    chart = {f"{service} {new}": series.get((service, new), []), f"{service} {old}": series.get((service, old), [])}
    gate.evidence(
        source="prometheus",
        query=windows.query(metric, smooth=True),
        window_min=window_min,
        step_s=step,
        max_ratio=max_ratio,
        floor=floor,
        end=windows.end,
        prometheus_queries_so_far=windows.queries,
        chart_svg=line_chart(
            {k: [[t, v] for t, v in pts] for k, pts in chart.items()},
            None,
            f"{NAMES[metric]}: {new} vs {old}",
            UNITS[metric],
            step_s=step,
            baseline=[f"{service} {old}"],
        ),
    )
    return verdict
