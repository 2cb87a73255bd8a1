"""Phase 4, canary 5%: the canary's metrics over the 15-minute window, per service.

Error rate and percentiles are judged on counts over sliding 5-minute windows (nova_gate/rules/counts.py):
a breach counts only when clearly above the limit for thresholds.sustain_min with no window clearly within;
a PASS needs the window clearly within. Too little traffic or no data is INCONCLUSIVE, never a pass.
"""

from .metric_gate import Check, over_services, per_service

W = "canary_window_min"
CHECKS = [
    Check("CAN-3", "error_rate", W, "error_rate_pct", "counts"),
    Check("CAN-4", "p95", W, "p95_ms", "counts"),
    Check("CAN-5", "p99", W, "p99_ms", "counts"),
    Check("CAN-6", "cpu", W, "cpu_pct", "gauge"),
    Check("CAN-7", "memory", W, "memory_pct", "gauge"),
]
WHOLE = [Check("CAN-10", "error_rate", W, "error_rate_pct", "counts"), Check("CAN-10", "p95", W, "p95_ms", "counts")]

test_canary_metric = per_service(CHECKS)
test_canary_whole_window_healthy = over_services("CAN-10", WHOLE, "canary window checks")
