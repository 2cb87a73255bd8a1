"""T+24h review: trends and percentiles over the day against the previous version."""

import pytest

from nova_gate.rules.metrics import trend_not_increasing
from nova_gate.verdict import combine

from .metric_gate import relative_verdict, threshold_verdict


def _day(env):
    return env.thresholds.review_window_h * 60


@pytest.mark.item("P24-1")
def test_error_rate_trend_flat_or_decreasing(windows, env, gate):
    rate, tolerance = env.metrics.trend_rate_window, env.thresholds.error_trend_pct_per_h
    series = windows.for_version("error_rate", _day(env), env.release.version, rate=rate)
    gate.evidence(
        source="prometheus",
        query=windows.query("error_rate", rate=rate),
        window_min=_day(env),
        tolerance_pct_per_h=tolerance,
    )
    verdicts = [trend_not_increasing(pts, tolerance, name=f"error rate of {s}", unit="%") for s, pts in series.items()]
    gate.judge(combine(verdicts, what="error-rate trends"))


@pytest.mark.item("P24-2")
def test_percentiles_vs_previous_version(service, windows, env, gate):
    t = env.thresholds
    gate.judge(
        combine(
            [
                relative_verdict(windows, gate, q, _day(env), service, t.latency_ratio_vs_old, t.latency_floor_ms)
                for q in ("p50", "p95", "p99")
            ],
            what="percentile comparisons",
        )
    )


@pytest.mark.item("P24-3")
def test_resource_utilization(windows, env, gate):
    t, services = env.thresholds, env.service_names
    gate.judge(
        combine(
            [
                threshold_verdict(windows, gate, "cpu", _day(env), t.cpu_pct, services),
                threshold_verdict(windows, gate, "memory", _day(env), t.memory_pct, services),
            ],
            what="resource checks",
        )
    )
