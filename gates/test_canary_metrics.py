"""Phase 4, canary 5%: the canary's metrics over the 15-minute window, per service.

Error rate and percentiles are judged on counts over sliding 5-minute windows (nova_gate/rules/counts.py):
a breach counts only when clearly above the limit for thresholds.sustain_min with no window clearly within;
a PASS needs the window clearly within. Too little traffic or no data is INCONCLUSIVE, never a pass.
"""

import pytest

from nova_gate.verdict import combine

from .metric_gate import count_verdict, threshold_verdict


def _window(env):
    return env.thresholds.canary_window_min


@pytest.mark.item("CAN-3")
def test_canary_error_rate(service, windows, env, gate):
    gate.judge(count_verdict(windows, gate, "error_rate", _window(env), env.thresholds.error_rate_pct, [service]))


@pytest.mark.item("CAN-4")
def test_canary_p95_latency(service, windows, env, gate):
    gate.judge(count_verdict(windows, gate, "p95", _window(env), env.thresholds.p95_ms, [service]))


@pytest.mark.item("CAN-5")
def test_canary_p99_latency(service, windows, env, gate):
    gate.judge(count_verdict(windows, gate, "p99", _window(env), env.thresholds.p99_ms, [service]))


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
                count_verdict(windows, gate, "error_rate", _window(env), env.thresholds.error_rate_pct, services),
                count_verdict(windows, gate, "p95", _window(env), env.thresholds.p95_ms, services),
            ],
            what="canary window checks",
        )
    )
