"""T+24h review: trends and percentiles over the day against the previous version."""

import pytest

from nova_gate.rules.metrics import as_review, day_histograms, day_quantile_vs_old, trend_within
from nova_gate.shared import memo
from nova_gate.verdict import combine
from nova_gate.windows import day_buckets_query, release_start, step_for

from .metric_gate import Check, over_services


def _day(env):
    return env.thresholds.review_window_h * 60


@pytest.mark.item("P24-1")
def test_error_rate_trend_flat_or_decreasing(windows, env, gate):
    """The day's error-rate slope with its confidence interval: a rise beyond the larger of
    error_trend_abs_pct (percentage points) and error_trend_growth_pct (% of the start) over the window fails."""
    t, rate = env.thresholds, env.metrics.trend_rate_window
    window_s = _day(env) * 60
    series = windows.for_version("error_rate", _day(env), env.release.version, rate=rate)
    gate.evidence(
        source="prometheus",
        query=windows.query("error_rate", rate=rate),
        window_min=_day(env),
        growth_pct=t.error_trend_growth_pct,
        abs_pct=t.error_trend_abs_pct,
    )
    verdicts = [
        trend_within(
            f"error rate of {s}",
            pts,
            window_s,
            step_for(window_s),
            rel_pct=t.error_trend_growth_pct,
            abs_change=t.error_trend_abs_pct,
            per="window",
            min_coverage=env.metrics.min_coverage,
            family=len(series),
            unit="%",
        )
        for s, pts in series.items()
    ]
    gate.judge(combine(verdicts, what="error-rate trends"))


def _days(prometheus, env, windows):
    """Every service's day of histograms, new and previous version: the same three queries (release
    start, the two days grouped ``by (service, version, le)``) for the whole estate, once per session."""

    def fetch():
        hours = env.thresholds.review_window_h
        query = day_buckets_query(env, hours)
        start = release_start(prometheus, env, hours, windows.end)
        # the previous version's day ends where the new one began, if the history reaches back that far
        old_at = start if start is not None and start > windows.end - hours * 3600 + 3600 else windows.end
        basis = "its own day before the release" if old_at != windows.end else "the same day (no earlier history)"
        now = day_histograms(prometheus.instant_by(query, at=windows.end, by=("service", "version", "le")))
        before = day_histograms(prometheus.instant_by(query, at=old_at, by=("service", "version", "le")))
        return query, old_at, basis, now, before

    return memo(prometheus).get(("P24-2 days", env.release.version, windows.end), fetch)


@pytest.mark.item("P24-2")
def test_percentiles_vs_previous_version(service, windows, prometheus, env, gate):
    """A review (WARN-only): the new version's P50/P95/P99 over its day against the previous version's own
    day before the release (from history); while the old version still serves and no earlier history
    exists, its same day; no previous-version data is a WARN, never a block."""
    t = env.thresholds
    new, old = env.release.version, env.release.baseline_version
    query, old_at, basis, now, before = _days(prometheus, env, windows)
    gate.evidence(source="prometheus", query=query, new_at=windows.end, old_at=old_at, old_basis=basis)
    verdicts = [
        day_quantile_vs_old(
            f"{q.upper()} of {service}",
            now.get((service, new)),
            before.get((service, old)),
            {"p50": 0.5, "p95": 0.95, "p99": 0.99}[q],
            t.latency_ratio_vs_old,
            t.latency_floor_ms,
            t.min_requests,
            basis,
        )
        for q in ("p50", "p95", "p99")
    ]
    verdict = combine(verdicts, what="percentile comparisons")
    gate.judge(as_review(verdict))


RESOURCES = [
    Check("P24-3", "cpu", "review_window_h", "cpu_pct", "gauge"),
    Check("P24-3", "memory", "review_window_h", "memory_pct", "gauge"),
]


test_resource_utilization = over_services("P24-3", RESOURCES, "resource checks")
