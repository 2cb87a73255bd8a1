"""Phase 4, canary 5%: the canary's metrics over the 15-minute window, per service.

A breach counts only when sustained for thresholds.sustain_min (the checklist's "for 5 minutes");
a shorter spike is shown in the evidence but passes. No data is INCONCLUSIVE, never a pass.
"""

import pytest

from nova_gate.verdict import combine

from .metric_gate import threshold_verdict


def _window(env):
    return env.thresholds.canary_window_min


@pytest.mark.item("CAN-3")
def test_canary_error_rate(service, windows, env, gate):
    gate.judge(threshold_verdict(windows, gate, "error_rate", _window(env), env.thresholds.error_rate_pct, [service]))


@pytest.mark.item("CAN-4")
def test_canary_p95_latency(service, windows, env, gate):
    gate.judge(threshold_verdict(windows, gate, "p95", _window(env), env.thresholds.p95_ms, [service]))


@pytest.mark.item("CAN-5")
def test_canary_p99_latency(service, windows, env, gate):
    gate.judge(threshold_verdict(windows, gate, "p99", _window(env), env.thresholds.p99_ms, [service]))


@pytest.mark.item("CAN-6")
def test_canary_cpu(service, windows, env, gate):
    gate.judge(threshold_verdict(windows, gate, "cpu", _window(env), env.thresholds.cpu_pct, [service]))


@pytest.mark.item("CAN-7")
def test_canary_memory(service, windows, env, gate):
    gate.judge(threshold_verdict(windows, gate, "memory", _window(env), env.thresholds.memory_pct, [service]))


@pytest.mark.item("CAN-10")
def test_canary_whole_window_healthy(windows, env, gate):
    """The whole release over the whole window: error rate and P95 of every service."""
    services = env.service_names
    gate.judge(
        combine(
            [
                threshold_verdict(windows, gate, "error_rate", _window(env), env.thresholds.error_rate_pct, services),
                threshold_verdict(windows, gate, "p95", _window(env), env.thresholds.p95_ms, services),
            ],
            what="canary window checks",
        )
    )
