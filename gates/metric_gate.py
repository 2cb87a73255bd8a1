"""The few lines every metric gate shares: judge one metric of one version over a window."""

from __future__ import annotations

import dataclasses
from typing import Any

from nova_gate.charts import line_chart
from nova_gate.rules.metrics import (
    count_threshold,
    relative_counts,
    relative_latency,
    relative_to_baseline,
    windowed_threshold,
)
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
    inclusive: bool = True,
) -> Verdict:
    """A gauge (CPU, memory) against its "< X" limit: exactly X is beyond it."""
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
        max_gap_scrapes=env.metrics.max_gap_scrapes,
        inclusive=inclusive,
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


# -- judgment on counts (issue 10) ----------------------------------------------------------------------
QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}
#: the new-vs-old items of one gate (SCL-2, SCL-3): with the services, the family that shares its budget
RELATIVE_ITEMS = 2


def count_verdict(
    windows: Any,
    gate: Any,
    metric: str,
    window_min: float,
    threshold: float,
    services: list[str],
    version: str | None = None,
    inclusive: bool = False,
) -> Verdict:
    """Error ratio or a latency percentile of one version, judged on sliding-window counts."""
    env = windows.env
    version = version or env.release.version
    rules = windows.rules(window_min)
    if metric == "error_rate":
        counts = windows.error_counts(window_min, version, services)
        verdict = count_threshold(
            f"error rate of {version}", counts, threshold, rules, window_min * 60, "%", inclusive=inclusive
        )
        query = [windows.count_query("errors"), windows.count_query("requests")]
    else:
        q = QUANTILES[metric]
        buckets = windows.bucket_counts(window_min, version, services)
        counts = {s: b.for_latency(q, threshold) for s, b in buckets.items()}
        verdict = count_threshold(
            f"{NAMES[metric]} of {version}",
            counts,
            threshold,
            rules,
            window_min * 60,
            " ms",
            what=f"share of requests slower than {threshold:g} ms",
            events="slow",
            tail=1 - q,
            inclusive=inclusive,
        )
        query = [windows.count_query("buckets")]
    gate.evidence(
        source="prometheus",
        query=query,
        window_min=window_min,
        step_s=rules.step_s,
        version=version,
        threshold=threshold,
        sustain_min=env.thresholds.sustain_min,
        count_window=env.metrics.count_window,
        end=windows.end,
        prometheus_queries_so_far=windows.queries,
        chart_svg=line_chart(
            {s: pts for s, pts in verdict.details.get("series", {}).items()},
            threshold,
            f"{NAMES[metric]} {version} per {env.metrics.count_window} window, last {window_min:g} min",
            UNITS[metric],
        ),
    )
    return verdict


def relative_count_verdict(
    windows: Any,
    gate: Any,
    metric: str,
    window_min: float,
    service: str,
    max_ratio: float,
    floor: float,
    new_end: float | None = None,
) -> Verdict:
    """New vs old version over the same sliding windows: error ratio (rate-ratio test) or a percentile."""
    env = windows.env
    new, old = env.release.version, env.release.baseline_version
    rules = dataclasses.replace(windows.rules(window_min), family=RELATIVE_ITEMS * len(env.service_names))
    min_requests = env.thresholds.min_requests
    if metric == "error_rate":
        a = windows.error_counts(window_min, new, [service])[service]
        b = windows.error_counts(window_min, old, [service])[service]
        verdict = relative_counts(f"{NAMES[metric]} of {service}", a, b, max_ratio, floor, min_requests, rules)
        query = [windows.count_query("errors"), windows.count_query("requests")]
    else:
        a_b = windows.bucket_counts(window_min, new, [service])[service]
        b_b = windows.bucket_counts(window_min, old, [service])[service]
        verdict = relative_latency(
            f"{NAMES[metric]} of {service}", a_b, b_b, QUANTILES[metric], max_ratio, floor, min_requests, rules
        )
        query = [windows.count_query("buckets")]
    series = verdict.details.get("series", {})
    gate.evidence(
        source="prometheus",
        query=query,
        window_min=window_min,
        step_s=rules.step_s,
        max_ratio=max_ratio,
        floor=floor,
        end=windows.end,
        prometheus_queries_so_far=windows.queries,
        chart_svg=line_chart(
            {f"{service} {new}": series.get("new", []), f"{service} {old}": series.get("old", [])},
            None,
            f"{NAMES[metric]}: {new} vs {old}",
            UNITS[metric],
        ),
    )
    return verdict
