"""Phase 8, two hours of stability after the full rollout."""

import pytest

from nova_gate.charts import line_chart
from nova_gate.rules.metrics import trend_within
from nova_gate.verdict import combine
from nova_gate.windows import step_for

from .metric_gate import Check, params, run

W = "stability_window_min"
CHECKS = [
    # "< 0.5%" and "< 500 ms": exactly the limit fails
    Check("MON-3", "error_rate", W, "stability_error_rate_pct", "counts", inclusive=True),
    Check("MON-4", "p95", W, "p95_ms", "counts", inclusive=True),
]


@pytest.mark.parametrize("check", params(CHECKS))
def test_stability_metric(check, windows, env, gate):
    gate.judge(run(windows, gate, check, env.service_names))


@pytest.mark.item("MON-5")
def test_memory_stable(windows, env, gate):
    """No leak: each service's new-version memory slope, with its confidence interval, over a covered window."""
    t = env.thresholds
    window_s = t.stability_window_min * 60
    series = windows.for_version("memory_bytes", t.stability_window_min, env.release.version)
    verdicts = [
        trend_within(
            f"memory of {s}",
            pts,
            window_s,
            step_for(window_s),
            rel_pct=t.memory_leak_pct_per_h,
            abs_change=t.memory_leak_mb_per_h * 2**20,
            per="hour",
            min_coverage=env.metrics.min_coverage,
            family=len(series),
            unit=" B",
        )
        for s, pts in series.items()
    ]
    gate.evidence(
        source="prometheus",
        query=windows.query("memory_bytes"),
        window_min=t.stability_window_min,
        tolerance_pct_per_h=t.memory_leak_pct_per_h,
        tolerance_mb_per_h=t.memory_leak_mb_per_h,
        chart_svg=line_chart(
            {s: [[ts, v / 2**20 if v is not None else None] for ts, v in pts[::8]] for s, pts in series.items()},
            None,
            "resident memory (MiB)",
            " MiB",
        ),
    )
    gate.judge(combine(verdicts, what="services' memory trends"))
