"""Phase 5, 50% traffic: the new version against the old one over the 30-minute window."""

from .metric_gate import Check, over_services, per_service

W = "scale_window_min"
CHECKS = [
    Check("SCL-2", "error_rate", W, "error_ratio_vs_old", "relative", floor="error_rate_floor_pct"),
    Check("SCL-3", "p95", W, "latency_ratio_vs_old", "relative", floor="latency_floor_ms"),
]
WHOLE = [Check("SCL-4", "error_rate", W, "error_rate_pct", "counts"), Check("SCL-4", "p95", W, "p95_ms", "counts")]

test_new_within_old = per_service(CHECKS)
test_stable_across_the_window = over_services("SCL-4", WHOLE, "30-minute window checks")
