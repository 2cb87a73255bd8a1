"""Phase 5, 50% traffic: the new version against the old one over the 30-minute window."""

import pytest

from nova_gate.verdict import combine

from .metric_gate import count_verdict, relative_count_verdict


@pytest.mark.item("SCL-2")
def test_new_error_rate_within_2x_old(service, windows, env, gate):
    t = env.thresholds
    gate.judge(
        relative_count_verdict(
            windows, gate, "error_rate", t.scale_window_min, service, t.error_ratio_vs_old, t.error_rate_floor_pct
        )
    )


@pytest.mark.item("SCL-3")
def test_new_p95_within_1_5x_old(service, windows, env, gate):
    t = env.thresholds
    gate.judge(
        relative_count_verdict(
            windows, gate, "p95", t.scale_window_min, service, t.latency_ratio_vs_old, t.latency_floor_ms
        )
    )


@pytest.mark.item("SCL-4")
def test_stable_across_the_window(windows, env, gate):
    t, services = env.thresholds, env.service_names
    gate.judge(
        combine(
            [
                count_verdict(windows, gate, "error_rate", t.scale_window_min, t.error_rate_pct, services),
                count_verdict(windows, gate, "p95", t.scale_window_min, t.p95_ms, services),
            ],
            what="30-minute window checks",
        )
    )
