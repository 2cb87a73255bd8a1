"""The metric checks as data, judged by one pipeline (Kayenta's stages: fetch, preprocess, judge, evidence, chart).

A :class:`Check` is one row of the checklist's metric table: ``(item, metric, window, threshold, kind)``.
:func:`run` takes a row and the services it covers, fetches the window from the shared
:class:`~nova_gate.windows.MetricWindows` (one Prometheus query per metric and window for all
services), turns it into counts or samples, hands them to the rule of the row's kind, records the
evidence with its chart, and returns the verdict. The gate modules only list rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from nova_gate.charts import line_chart
from nova_gate.rules.metrics import count_threshold, relative_counts, relative_latency, windowed_threshold
from nova_gate.verdict import Verdict, combine
from nova_gate.windows import step_for

UNITS = {"error_rate": "%", "p50": " ms", "p95": " ms", "p99": " ms", "cpu": "%", "memory": "%"}
NAMES = {"error_rate": "error rate", "p50": "P50", "p95": "P95", "p99": "P99", "cpu": "CPU", "memory": "memory"}
QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}
#: the new-vs-old items of one gate (SCL-2, SCL-3): with the services, the family that shares its budget
RELATIVE_ITEMS = 2
KINDS = ("counts", "gauge", "relative")


@dataclass(frozen=True)
class Check:
    """One metric check: ``metric`` of the new version over ``window`` against ``threshold``.

    ``window``, ``threshold`` and ``floor`` name fields of the environment's ``thresholds`` (a window
    field ending in ``_h`` is in hours, else minutes). ``kind``: ``counts`` (error ratio or a percentile
    on sliding-window counts), ``gauge`` (CPU, memory samples) or ``relative`` (new vs old version,
    ``threshold`` the allowed ratio). ``inclusive``: the limit is written "< X", so exactly X fails.
    """

    item: str
    metric: str
    window: str
    threshold: str
    kind: str
    floor: str | None = None
    inclusive: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS or self.metric not in NAMES:
            raise ValueError(f"{self.item}: unknown kind {self.kind!r} or metric {self.metric!r}")

    def window_min(self, env: Any) -> float:
        value = float(getattr(env.thresholds, self.window))
        return value * 60 if self.window.endswith("_h") else value

    def limit(self, env: Any) -> float:
        return float(getattr(env.thresholds, self.threshold))


def params(checks: Sequence[Check]) -> list[Any]:
    """pytest parameters of a table: each row bound to its checklist item, with the item as its id."""
    return [pytest.param(c, id=c.item, marks=pytest.mark.item(c.item)) for c in checks]


def run(windows: Any, gate: Any, check: Check, services: list[str]) -> Verdict:
    """Fetch, preprocess, judge, record evidence and chart for one row over ``services``."""
    env = windows.env
    window_min = check.window_min(env)
    if check.kind == "relative":
        verdicts = [_relative(windows, gate, check, window_min, s) for s in services]
        return verdicts[0] if len(verdicts) == 1 else combine(verdicts, what=f"{check.item} comparisons")
    version = env.release.version
    name = f"{NAMES[check.metric]} of {version}"
    if check.kind == "gauge":
        step = step_for(window_min * 60)
        series = windows.for_version(check.metric, window_min, version, services)
        verdict = windowed_threshold(
            name,
            series,
            check.limit(env),
            env.thresholds.sustain_min * 60,
            step,
            window_min * 60,
            env.metrics.min_coverage,
            UNITS[check.metric],
            max_gap_scrapes=env.metrics.max_gap_scrapes,
            inclusive=True,  # CPU and memory limits are written "< X"
        )
        query: Any = windows.query(check.metric)
        per = ""
    else:
        rules = windows.rules(window_min)
        step = rules.step_s
        verdict = count_threshold(
            name, *_counts(windows, check, window_min, services), rules, window_min * 60, **_count_options(check, env)
        )
        query = _count_queries(windows, check)
        per = f" per {env.metrics.count_window} window"
    _record(
        gate,
        windows,
        check,
        query=query,
        window_min=window_min,
        step=step,
        chart=verdict.details.get("series", {}),
        title=f"{NAMES[check.metric]} {version}{per}, last {window_min:g} min",
        version=version,
        threshold=check.limit(env),
        sustain_min=env.thresholds.sustain_min,
    )
    return verdict


def run_all(windows: Any, gate: Any, checks: Sequence[Check], services: list[str], what: str) -> Verdict:
    """Several rows over every service, one verdict (CAN-10, SCL-4, P24-3)."""
    return combine([run(windows, gate, c, services) for c in checks], what=what)


# -- the tests a table makes ---------------------------------------------------------------------------
def per_service(checks: Sequence[Check]) -> Any:
    """One test per (row, service): ``test_x = per_service(CHECKS)`` in a gate module."""

    @pytest.mark.parametrize("check", params(checks))
    def test(check: Check, service: str, windows: Any, gate: Any) -> None:
        gate.judge(run(windows, gate, check, [service]))

    return test


def over_services(item: str, checks: Sequence[Check], what: str) -> Any:
    """One test for ``item``: every row over every service, one verdict."""

    @pytest.mark.item(item)
    def test(windows: Any, env: Any, gate: Any) -> None:
        gate.judge(run_all(windows, gate, checks, env.service_names, what))

    test.__doc__ = f"{item}: {what} over every service."
    return test


# -- the stages -------------------------------------------------------------------------------------------
def _counts(windows: Any, check: Check, window_min: float, services: list[str]) -> tuple[dict[str, Any], float]:
    """Fetch and preprocess: per service, events and requests per sliding window; the limit in the rule's unit."""
    env = windows.env
    version = env.release.version
    limit = check.limit(env)
    if check.metric == "error_rate":
        return windows.error_counts(window_min, version, services), limit
    buckets = windows.bucket_counts(window_min, version, services)
    q = QUANTILES[check.metric]
    return {s: b.for_latency(q, limit) for s, b in buckets.items()}, limit


def _count_options(check: Check, env: Any) -> dict[str, Any]:
    if check.metric == "error_rate":
        return {"unit": "%", "inclusive": check.inclusive}
    limit, q = check.limit(env), QUANTILES[check.metric]
    return {
        "unit": " ms",
        "what": f"share of requests slower than {limit:g} ms",
        "events": "slow",
        "tail": 1 - q,
        "inclusive": check.inclusive,
    }


def _count_queries(windows: Any, check: Check) -> list[str]:
    if check.metric == "error_rate":
        return [windows.count_query("errors"), windows.count_query("requests")]
    return [windows.count_query("buckets")]


def _relative(windows: Any, gate: Any, check: Check, window_min: float, service: str) -> Verdict:
    """New vs old version over the same sliding windows: error ratio (rate-ratio test) or a percentile."""
    env = windows.env
    new, old = env.release.version, env.release.baseline_version
    rules = dataclasses.replace(windows.rules(window_min), family=RELATIVE_ITEMS * len(env.service_names))
    max_ratio = check.limit(env)
    floor = float(getattr(env.thresholds, check.floor)) if check.floor else 0.0
    name = f"{NAMES[check.metric]} of {service}"
    min_requests = env.thresholds.min_requests
    if check.metric == "error_rate":
        a = windows.error_counts(window_min, new, [service])[service]
        b = windows.error_counts(window_min, old, [service])[service]
        verdict = relative_counts(name, a, b, max_ratio, floor, min_requests, rules)
    else:
        a_b = windows.bucket_counts(window_min, new, [service])[service]
        b_b = windows.bucket_counts(window_min, old, [service])[service]
        q = QUANTILES[check.metric]
        verdict = relative_latency(name, a_b, b_b, q, max_ratio, floor, min_requests, rules)
    series = verdict.details.get("series", {})
    _record(
        gate,
        windows,
        check,
        query=_count_queries(windows, check),
        window_min=window_min,
        step=rules.step_s,
        chart={f"{service} {new}": series.get("new", []), f"{service} {old}": series.get("old", [])},
        title=f"{NAMES[check.metric]}: {new} vs {old}",
        threshold_line=None,
        max_ratio=max_ratio,
        floor=floor,
    )
    return verdict


def _record(
    gate: Any,
    windows: Any,
    check: Check,
    *,
    query: Any,
    window_min: float,
    step: float,
    chart: dict[str, Any],
    title: str,
    threshold_line: float | str | None = "limit",
    **facts: Any,
) -> None:
    """Evidence and chart: what was asked, over which window, and the picture of it."""
    env = windows.env
    line = check.limit(env) if threshold_line == "limit" else threshold_line
    gate.evidence(
        source="prometheus",
        item=check.item,
        kind=check.kind,
        query=query,
        window_min=window_min,
        step_s=step,
        count_window=env.metrics.count_window if check.kind != "gauge" else None,
        end=windows.end,
        prometheus_queries_so_far=windows.queries,
        **facts,
        chart_svg=line_chart(
            {k: [list(p) for p in pts] for k, pts in chart.items()},
            line if isinstance(line, float) else None,
            title,
            UNITS[check.metric],
            step_s=step,
            sustain_s=env.thresholds.sustain_min * 60 if check.kind == "gauge" else None,
            baseline=[k for k in chart if k.endswith(f" {env.release.baseline_version}")] or None,
        ),
    )
