"""Metric rules on hand-built series: sustained thresholds, ratios to the old version, trends."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import pytest

from nova_gate.backends.base import SourceError
from nova_gate.backends.prometheus.config import Prometheus
from nova_gate.backends.prometheus.source import PrometheusSource
from nova_gate.rules.metrics import (
    CHART_POINTS,
    Sample,
    catastrophic,
    downsample,
    ratio_series,
    relative_to_baseline,
    runs_beyond,
    stats,
    sustained_breach,
    trend_not_increasing,
    windowed_threshold,
)
from nova_gate.testing import free_port
from nova_gate.verdict import Label, Verdict

T0 = 1_700_000_000.0
STEP = 60.0
MIN = 60.0
SUSTAIN = 5 * MIN
WINDOW = 15 * MIN


def series(values: Sequence[float | None], start: float = T0, step: float = STEP) -> list[Sample]:
    return [(start + i * step, v) for i, v in enumerate(values)]


def from_minute(start: int, value: float, base: float = 0.2, end: int = 16) -> list[Sample]:
    """A 15-minute window at a 60 s step (16 samples, minute 0..15) with ``value`` in [start, end)."""
    return series([value if start <= i < end else base for i in range(16)])


# -- sustained_breach -------------------------------------------------------------------------------------
def test_nothing_beyond_threshold_is_none() -> None:
    assert sustained_breach(from_minute(0, 0.5), 1.0, SUSTAIN, STEP) is None


def test_sustained_from_minute_7_is_a_breach() -> None:
    breach = sustained_breach(from_minute(7, 1.4), 1.0, SUSTAIN, STEP)
    assert breach is not None and breach.sustained is not None
    assert breach.sustained.start == T0 + 7 * MIN
    assert breach.sustained.end == T0 + 15 * MIN
    assert breach.sustained.duration_s == 8 * MIN
    assert breach.sustained.peak == 1.4
    assert breach.spike is None


def test_three_minute_spike_is_reported_not_sustained() -> None:
    breach = sustained_breach(from_minute(3, 5.0, end=6), 1.0, SUSTAIN, STEP)
    assert breach is not None
    assert breach.sustained is None
    assert breach.spike is not None
    assert (breach.spike.start, breach.spike.peak) == (T0 + 3 * MIN, 5.0)
    assert breach.spike.duration_s == 2 * MIN


def test_exactly_sustain_is_a_breach_one_sample_less_is_not() -> None:
    # like Prometheus `for: 5m` at a 1 m step: six consecutive samples (first to last = 5 min)
    six = sustained_breach(from_minute(2, 2.0, end=8), 1.0, SUSTAIN, STEP)
    five = sustained_breach(from_minute(2, 2.0, end=7), 1.0, SUSTAIN, STEP)
    assert six is not None and six.sustained is not None
    assert five is not None and five.sustained is None and five.spike is not None


def test_value_equal_to_threshold_is_not_beyond() -> None:
    assert sustained_breach(from_minute(0, 1.0), 1.0, SUSTAIN, STEP) is None


def test_first_sustained_run_and_worst_spike() -> None:
    values: list[float | None] = [0.1] * 30
    values[2:4] = [3.0, 3.0]  # spike 1: peak 3
    values[6] = 9.0  # spike 2: peak 9, one sample
    values[10:17] = [1.5] * 7  # first sustained run
    values[20:28] = [2.5] * 8  # second sustained run
    breach = sustained_breach(series(values), 1.0, SUSTAIN, STEP)
    assert breach is not None and breach.sustained is not None and breach.spike is not None
    assert breach.sustained.start == T0 + 10 * MIN
    assert breach.spike.peak == 9.0


def test_below_direction() -> None:
    values = [99.9] * 4 + [97.0] * 8 + [99.9] * 4
    breach = sustained_breach(series(values), 99.0, SUSTAIN, STEP, above=False)
    assert breach is not None and breach.sustained is not None
    assert breach.sustained.peak == 97.0


def test_one_missing_sample_does_not_reset_a_run() -> None:
    values: list[float | None] = [2.0] * 10
    values[4] = None
    breach = sustained_breach(series(values), 1.0, SUSTAIN, STEP)
    assert breach is not None and breach.sustained is not None
    assert breach.sustained.duration_s == 9 * MIN


def test_nan_counts_as_missing_like_none() -> None:
    values: list[float | None] = [2.0] * 10
    values[4] = math.nan
    breach = sustained_breach(series(values), 1.0, SUSTAIN, STEP)
    assert breach is not None and breach.sustained is not None


def test_a_long_gap_ends_a_run() -> None:
    values: list[float | None] = [2.0] * 4 + [None] * 3 + [2.0] * 4
    breach = sustained_breach(series(values), 1.0, SUSTAIN, STEP)
    assert breach is not None and breach.sustained is None
    assert len(runs_beyond(series(values), 1.0, STEP)) == 2


def test_missing_timestamps_are_a_gap_too() -> None:
    samples = [(T0 + i * MIN, 2.0) for i in (0, 1, 2, 3, 8, 9, 10, 11)]
    breach = sustained_breach(samples, 1.0, SUSTAIN, STEP)
    assert breach is not None and breach.sustained is None


def test_unsorted_input_is_sorted() -> None:
    samples = list(reversed(from_minute(7, 1.4)))
    breach = sustained_breach(samples, 1.0, SUSTAIN, STEP)
    assert breach is not None and breach.sustained is not None
    assert breach.sustained.start == T0 + 7 * MIN


def test_plus_inf_latency_is_a_breach() -> None:
    breach = sustained_breach(from_minute(0, math.inf, base=0.1), 0.5, SUSTAIN, STEP)
    assert breach is not None and breach.sustained is not None
    assert breach.sustained.peak == math.inf


# -- windowed_threshold -----------------------------------------------------------------------------------
def errors(by_service: dict[str, list[Sample]]) -> Label:
    return windowed_threshold("error rate", by_service, 1.0, SUSTAIN, STEP, WINDOW).label


def test_sustained_errors_from_minute_7_fail_the_1pct_5min_rule() -> None:
    v = windowed_threshold(
        "error rate", {"api": from_minute(0, 0.2), "feed-service": from_minute(7, 1.4)}, 1.0, SUSTAIN, STEP, WINDOW
    )
    assert v.label is Label.FAIL
    assert "feed-service" in v.reason and "api" not in v.reason.split(":", 1)[1]
    assert "8m" in v.reason and "1.4%" in v.reason
    assert v.details["services"]["feed-service"]["breach"]["duration_s"] == 8 * MIN


def test_three_minute_five_pct_spike_passes_but_is_reported() -> None:
    v = windowed_threshold("error rate", {"feed-service": from_minute(3, 5.0, end=6)}, 1.0, SUSTAIN, STEP, WINDOW)
    assert v.label is Label.PASS
    assert "spike" in v.reason and "feed-service" in v.reason and "5%" in v.reason
    assert v.details["spikes"]["feed-service"]["peak"] == 5.0


def test_p95_520ms_sustained_fails_500ms() -> None:
    p95 = {"api": from_minute(4, 520.0, base=180.0)}
    v = windowed_threshold("P95 latency", p95, 500.0, SUSTAIN, STEP, WINDOW, unit="ms")
    assert v.label is Label.FAIL
    assert "520 ms" in v.reason


def test_healthy_window_passes_with_stats() -> None:
    v = windowed_threshold(
        "error rate", {"api": from_minute(0, 0.2), "auth": from_minute(0, 0.3)}, 1.0, SUSTAIN, STEP, WINDOW
    )
    assert v.label is Label.PASS
    assert v.details["services"]["auth"]["max"] == 0.3
    assert set(v.details["services"]["api"]) >= {"min", "max", "mean", "last", "coverage"}
    assert v.details["series"]["api"][0] == [T0, 0.2]


def test_a_service_with_no_samples_is_inconclusive() -> None:
    v = windowed_threshold("error rate", {"api": from_minute(0, 0.2), "search-service": []}, 1.0, SUSTAIN, STEP, WINDOW)
    assert v.label is Label.INCONCLUSIVE
    assert "search-service" in v.reason and "no samples" in v.reason


def test_a_service_with_only_none_and_nan_is_inconclusive() -> None:
    assert errors({"api": series([None, math.nan] * 8)}) is Label.INCONCLUSIVE


def test_no_services_at_all_is_inconclusive() -> None:
    assert errors({}) is Label.INCONCLUSIVE


def test_low_coverage_is_inconclusive() -> None:
    half: list[float | None] = [0.2] * 8 + [None] * 8
    v = windowed_threshold("error rate", {"api": series(half)}, 1.0, SUSTAIN, STEP, WINDOW)
    assert v.label is Label.INCONCLUSIVE and "api" in v.reason and "%" in v.reason


def test_coverage_at_the_limit_passes() -> None:
    values: list[float | None] = [0.2] * 16
    values[1] = values[5] = values[9] = None  # 13 of 15 expected samples
    assert errors({"api": series(values)}) is Label.PASS


def test_breach_wins_over_missing_data() -> None:
    v = windowed_threshold(
        "error rate", {"feed-service": from_minute(7, 1.4), "search-service": []}, 1.0, SUSTAIN, STEP, WINDOW
    )
    assert v.label is Label.FAIL
    assert "feed-service" in v.reason and "search-service" in v.reason


def test_charts_are_downsampled_and_keep_the_peak() -> None:
    long = series([0.1] * 1000)
    long[537] = (long[537][0], 0.9)
    v = windowed_threshold("error rate", {"api": long}, 1.0, SUSTAIN, STEP, 1000 * STEP)
    chart = v.details["series"]["api"]
    assert len(chart) <= CHART_POINTS
    assert max(value for _, value in chart) == 0.9


def test_evidence_is_json_serialisable() -> None:
    import json

    v = windowed_threshold(
        "error rate", {"feed-service": from_minute(7, 1.4), "x": from_minute(3, 5, end=5)}, 1.0, SUSTAIN, STEP, WINDOW
    )
    json.dumps(v.as_dict())


# -- relative_to_baseline ---------------------------------------------------------------------------------
def compare(
    new: float | Sequence[float | None],
    old: float | Sequence[float | None],
    *,
    max_ratio: float = 2.0,
    floor: float = 0.1,
    requests: tuple[float | None, float | None] = (5000, 20000),
) -> Verdict:
    new_values = [new] * 16 if isinstance(new, float | int) else new
    old_values = [old] * 16 if isinstance(old, float | int) else old
    return relative_to_baseline(
        "error rate",
        series(new_values),
        series(old_values),
        max_ratio,
        floor,
        100,
        requests[0],
        requests[1],
        SUSTAIN,
        STEP,
    )


def test_new_at_2_5x_old_fails_2x_while_both_under_1pct() -> None:
    v = compare(0.75, 0.3)
    assert v.label is Label.FAIL
    assert "2.5x" in v.reason
    assert v.observed["max_ratio"] == pytest.approx(2.5)


def test_new_at_1_5x_old_passes_2x() -> None:
    assert compare(0.45, 0.3).label is Label.PASS


def test_tiny_numbers_stay_under_the_floor() -> None:
    v = compare(0.03, 0.01)  # 3x, but against the 0.1% floor it is 0.3x
    assert v.label is Label.PASS
    assert v.observed["max_ratio"] == pytest.approx(0.3)


def test_floor_does_not_hide_a_real_regression() -> None:
    assert compare(0.5, 0.01).label is Label.FAIL  # 5x the floor


def test_old_at_zero_uses_the_floor() -> None:
    assert compare(0.15, 0.0).label is Label.PASS
    assert compare(0.25, 0.0).label is Label.FAIL


@pytest.mark.parametrize("requests", [(50, 20000), (5000, 10), (None, 20000), (0, 0)])
def test_too_few_requests_is_inconclusive(requests: tuple[float | None, float | None]) -> None:
    v = compare(5.0, 0.3, requests=requests)
    assert v.label is Label.INCONCLUSIVE
    assert "traffic" in v.reason
    assert v.details["requests_new"] == requests[0] and v.details["requests_old"] == requests[1]


def test_short_regression_is_a_transient_not_a_failure() -> None:
    new: list[float | None] = [0.3] * 16
    new[5:8] = [1.2, 1.2, 1.2]
    v = compare(new, 0.3)
    assert v.label is Label.PASS
    assert "transient" in v.reason and v.details["spike"]["samples"] == 3


def test_no_overlapping_steps_is_inconclusive() -> None:
    v = relative_to_baseline(
        "error rate", series([0.3] * 16), series([0.3] * 16, start=T0 + 3600), 2.0, 0.1, 100, 5000, 5000, SUSTAIN, STEP
    )
    assert v.label is Label.INCONCLUSIVE and "both versions" in v.reason


def test_old_side_missing_samples_aligns_the_rest() -> None:
    old: list[float | None] = [0.3] * 16
    old[3] = None
    old[9] = math.nan
    ratios = ratio_series(series([0.75] * 16), series(old), 0.1, STEP)
    assert len(ratios) == 14
    assert compare(0.75, old).label is Label.FAIL


def test_timestamps_off_by_jitter_still_align() -> None:
    old = [(ts + 0.4, v) for ts, v in series([0.3] * 16)]
    assert len(ratio_series(series([0.75] * 16), old, 0.1, STEP)) == 16


def test_mann_whitney_in_evidence_not_in_decision() -> None:
    rng = random.Random(7)
    new: list[float | None] = [0.5 + rng.random() * 0.1 for _ in range(16)]
    old: list[float | None] = [0.3 + rng.random() * 0.1 for _ in range(16)]
    v = compare(new, old)
    assert v.label is Label.PASS  # < 2x
    mw = v.details["mann_whitney"]
    assert mw["p_value"] < 0.01 and mw["rank_biserial"] == pytest.approx(1.0)


def test_mann_whitney_on_identical_samples_is_harmless() -> None:
    v = compare(0.3, 0.3)
    assert v.label is Label.PASS
    assert v.details["mann_whitney"]["rank_biserial"] == pytest.approx(0.0)


def test_latency_ratio_with_ms_floor() -> None:
    v = relative_to_baseline(
        "P95 latency", series([40.0] * 16), series([20.0] * 16), 1.5, 50.0, 100, 5000, 5000, SUSTAIN, STEP, unit="ms"
    )
    assert v.label is Label.PASS  # 2x, but 40 ms against a 50 ms floor is 0.8x
    v = relative_to_baseline(
        "P95 latency", series([300.0] * 16), series([180.0] * 16), 1.5, 50.0, 100, 5000, 5000, SUSTAIN, STEP, unit="ms"
    )
    assert v.label is Label.FAIL


# -- trend_not_increasing ---------------------------------------------------------------------------------
def test_slow_linear_memory_growth_fails() -> None:
    # 300 MB growing 30 MB/h over 2 h at 15 s: 10 %/h of the start, ~9 %/h of the mean
    samples = [(T0 + i * 15, 300 + 30 * i * 15 / 3600) for i in range(480)]
    v = trend_not_increasing(samples, 5.0, name="memory", unit="MB")
    assert v.label is Label.FAIL
    assert v.observed["slope_per_h"] == pytest.approx(30.0)
    assert "memory" in v.reason


def test_flat_noisy_series_passes() -> None:
    rng = random.Random(42)
    samples = [(T0 + i * 15, 300 + rng.gauss(0, 15)) for i in range(480)]
    assert trend_not_increasing(samples, 5.0).label is Label.PASS


def test_decreasing_series_passes() -> None:
    samples = [(T0 + i * 60, 1.0 - i * 0.001) for i in range(100)]
    assert trend_not_increasing(samples, 5.0).label is Label.PASS


def test_growth_under_tolerance_passes() -> None:
    samples = [(T0 + i * 60, 300 + 6 * i / 60) for i in range(120)]  # 6 MB/h on ~306 MB: ~2 %/h
    assert trend_not_increasing(samples, 5.0).label is Label.PASS


def test_trend_with_fewer_than_ten_samples_is_inconclusive() -> None:
    samples: list[Sample] = [(T0 + i * 60, float(i)) for i in range(9)]
    samples += [(T0 + 600 + i * 60, None) for i in range(20)]
    assert trend_not_increasing(samples, 5.0).label is Label.INCONCLUSIVE


def test_trend_ignores_missing_samples() -> None:
    samples: list[Sample] = [(T0 + i * 60, 300 + 30 * i / 60 if i % 3 else None) for i in range(120)]
    assert trend_not_increasing(samples, 5.0).label is Label.FAIL


def test_all_zero_error_rate_is_flat() -> None:
    assert trend_not_increasing(series([0.0] * 30), 5.0).label is Label.PASS


# -- catastrophic ------------------------------------------------------------------------------------------
def test_catastrophic_needs_two_consecutive_samples_over_10x() -> None:
    assert catastrophic(series([0.2, 11.0, 12.0]), 1.0)
    assert not catastrophic(series([0.2, 11.0, 0.2, 12.0]), 1.0)
    assert not catastrophic(series([9.0, 9.9, 9.9]), 1.0)


def test_catastrophic_skips_missing_samples() -> None:
    assert catastrophic(series([11.0, None, math.nan, 12.0]), 1.0)
    assert not catastrophic(series([None, None]), 1.0)


def test_catastrophic_custom_factor_and_count() -> None:
    assert catastrophic(series([600.0]), 500.0, factor=1.1, consecutive=1)
    assert not catastrophic(series([600.0, 600.0]), 500.0, factor=1.1, consecutive=3)


# -- helpers -----------------------------------------------------------------------------------------------
def test_stats_and_downsample_of_empty_and_gappy_series() -> None:
    assert stats([])["samples"] == 0
    assert downsample([]) == []
    gappy = series([1.0, None, 3.0, math.nan])
    assert stats(gappy) == {"samples": 2, "min": 1.0, "max": 3.0, "mean": 2.0, "last": 3.0}
    assert downsample(gappy, points=2) == [[T0, 1.0], [T0 + 2 * STEP, 3.0]]
    assert downsample(series([None, None])) == [[T0, None], [T0 + STEP, None]]


# -- PrometheusSource (httpx mock transport, no server) ------------------------------------------------------
def prom(handler: Callable[[httpx.Request], httpx.Response]) -> PrometheusSource:
    src = PrometheusSource(Prometheus(url="http://prom.invalid", timeout_s=1))
    src._http = httpx.Client(base_url="http://prom.invalid", transport=httpx.MockTransport(handler))
    return src


def matrix(*results: dict[str, Any]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/query_range"
        return httpx.Response(
            200, json={"status": "success", "data": {"resultType": "matrix", "result": list(results)}}
        )

    return handler


def test_range_by_splits_by_labels_and_fills_gaps_with_none() -> None:
    src = prom(
        matrix(
            {"metric": {"service": "api", "version": "v1"}, "values": [[T0, "0.2"], [T0 + 120, "NaN"]]},
            {"metric": {"service": "feed", "version": "v1"}, "values": [[T0 + 60, "+Inf"]]},
        )
    )
    got = src.range_by("q", T0, T0 + 180, 60, expect=[("search", "v1")])
    assert got[("api", "v1")] == [(T0, 0.2), (T0 + 60, None), (T0 + 120, None), (T0 + 180, None)]
    assert got[("feed", "v1")][1] == (T0 + 60, math.inf)
    assert got[("search", "v1")] == []
    assert src.calls == 1


def test_range_by_refuses_unaggregated_series() -> None:
    def one(pod: str) -> dict[str, Any]:
        return {"metric": {"service": "api", "version": "v1", "pod": pod}, "values": [[T0, "1"]]}

    src = prom(matrix(one("a"), one("b")))
    with pytest.raises(SourceError, match="sum by"):
        src.range_by("q", T0, T0 + 60, 60)


def test_prometheus_errors_become_source_errors() -> None:
    src = prom(lambda _: httpx.Response(400, json={"status": "error", "errorType": "bad_data", "error": "parse error"}))
    with pytest.raises(SourceError, match="prometheus: query sum\\(: HTTP 400: bad_data: parse error"):
        src.query("sum(")
    with pytest.raises(SourceError, match="at most"):
        src.query_range("up", T0, T0 + 86400, 1)


def test_unreachable_prometheus_is_a_source_error() -> None:
    port = free_port()
    src = PrometheusSource(Prometheus(url=f"http://127.0.0.1:{port}", timeout_s=1))
    with pytest.raises(SourceError, match=r"^prometheus: GET /api/v1/targets"):
        src.targets()
    src.close()


def test_rules_are_flattened_with_their_group() -> None:
    body = {
        "status": "success",
        "data": {"groups": [{"name": "nova", "file": "a.yml", "rules": [{"name": "NovaDown", "type": "alerting"}]}]},
    }
    src = prom(lambda _: httpx.Response(200, json=body))
    assert src.rules() == [{"name": "NovaDown", "type": "alerting", "group": "nova", "file": "a.yml"}]


def test_metric_table_rows_name_threshold_fields_and_reject_unknown_kinds() -> None:
    from types import SimpleNamespace

    from gates.metric_gate import Check

    env = SimpleNamespace(thresholds=SimpleNamespace(review_window_h=24, canary_window_min=15, cpu_pct=80))
    assert Check("P24-3", "cpu", "review_window_h", "cpu_pct", "gauge").window_min(env) == 24 * 60
    assert Check("CAN-6", "cpu", "canary_window_min", "cpu_pct", "gauge").window_min(env) == 15
    assert Check("CAN-6", "cpu", "canary_window_min", "cpu_pct", "gauge").limit(env) == 80
    with pytest.raises(ValueError, match="unknown kind"):
        Check("X-1", "cpu", "canary_window_min", "cpu_pct", "sampled")
