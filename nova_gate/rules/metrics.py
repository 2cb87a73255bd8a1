"""Metric verdicts over time series: sustained thresholds, new-vs-old ratios, trends, catastrophes.

A series is a list of ``(unix_ts, value)`` samples at a fixed step, as Prometheus ``query_range``
returns them. ``None`` and NaN are *missing* samples (no data, e.g. ``0/0`` when nothing was served);
``±inf`` is a value (``histogram_quantile`` answers ``+Inf`` when latency is beyond the top bucket).

Semantics shared by every rule here:

* a breach is *sustained* like a Prometheus ``for:`` clause: consecutive breaching samples whose
  first and last timestamps are at least ``sustain_s`` apart (so ``sustain_s=300`` at a 60 s step
  needs six samples);
* one missing sample inside a run does not reset it (a lost scrape must not hide a breach); a longer
  gap ends the run, and costs coverage, which makes the verdict INCONCLUSIVE when it is too low;
* no data is never a pass.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nova_gate.verdict import Verdict, failed, inconclusive, passed

Sample = tuple[float, float | None]
Series = Sequence[Sample]

#: at most this many points per series go into the evidence (for charts)
CHART_POINTS = 120
#: fewer valid samples than this and a trend is not judged
MIN_TREND_SAMPLES = 10
#: fewer samples per side than this and the Mann-Whitney U test is skipped
MIN_U_SAMPLES = 3


@dataclass(frozen=True)
class Run:
    """Consecutive samples beyond a threshold: first and last timestamp, most extreme value."""

    start: float
    end: float
    peak: float
    samples: int

    @property
    def duration_s(self) -> float:
        """Seconds between the first and the last breaching sample (Prometheus ``for:`` style)."""
        return self.end - self.start

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form for the evidence."""
        return {
            "start": _iso(self.start),
            "end": _iso(self.end),
            "duration_s": self.duration_s,
            "peak": self.peak,
            "samples": self.samples,
        }


@dataclass(frozen=True)
class Breach:
    """What crossed a threshold: the first sustained run (if any) and the worst transient spike."""

    sustained: Run | None
    spike: Run | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form for the evidence."""
        return {
            "sustained": self.sustained.as_dict() if self.sustained else None,
            "spike": self.spike.as_dict() if self.spike else None,
        }


def is_missing(value: float | None) -> bool:
    """A sample without data: ``None`` or NaN."""
    return value is None or math.isnan(value)


def valid(series: Series) -> list[tuple[float, float]]:
    """The samples that carry a value, sorted by time."""
    return sorted((float(ts), float(v)) for ts, v in series if v is not None and not math.isnan(v))


def runs_beyond(series: Series, threshold: float, step_s: float, above: bool = True) -> list[Run]:
    """Every run of samples beyond ``threshold``; one missing step inside a run does not end it."""
    runs: list[Run] = []
    current: list[tuple[float, float]] = []
    max_gap = 2 * step_s + 1e-6 * max(step_s, 1.0)

    def close() -> None:
        if current:
            values = [v for _, v in current]
            peak = max(values) if above else min(values)
            runs.append(Run(current[0][0], current[-1][0], peak, len(current)))
            current.clear()

    for ts, value in valid(series):
        beyond = value > threshold if above else value < threshold
        if not beyond:
            close()
            continue
        if current and ts - current[-1][0] > max_gap:
            close()
        current.append((ts, value))
    close()
    return runs


def sustained_breach(
    series: Series, threshold: float, sustain_s: float, step_s: float, above: bool = True
) -> Breach | None:
    """The first run beyond ``threshold`` lasting ``sustain_s`` and the worst shorter spike; None if none."""
    runs = runs_beyond(series, threshold, step_s, above)
    if not runs:
        return None
    sustained = next((r for r in runs if r.duration_s >= sustain_s), None)
    short = [r for r in runs if r.duration_s < sustain_s]
    sign = 1.0 if above else -1.0
    spike = max(short, key=lambda r: (sign * r.peak, r.duration_s)) if short else None
    return Breach(sustained, spike)


def stats(series: Series) -> dict[str, Any]:
    """min / max / mean / last and the number of valid samples of a series."""
    values = [v for _, v in valid(series)]
    if not values:
        return {"samples": 0, "min": None, "max": None, "mean": None, "last": None}
    return {
        "samples": len(values),
        "min": min(values),
        "max": max(values),
        "mean": _round(math.fsum(values) / len(values)),
        "last": values[-1],
    }


def downsample(series: Series, points: int = CHART_POINTS, above: bool = True) -> list[list[Any]]:
    """At most ``points`` samples for a chart; each bucket keeps its most extreme value (peaks survive)."""
    ordered = sorted(((float(ts), v) for ts, v in series), key=lambda s: s[0])
    if not ordered:
        return []
    size = max(1, math.ceil(len(ordered) / max(points, 1)))
    out: list[list[Any]] = []
    for i in range(0, len(ordered), size):
        bucket = ordered[i : i + size]
        present = [(ts, v) for ts, v in bucket if v is not None and not math.isnan(v)]
        if not present:
            out.append([bucket[0][0], None])
            continue
        pick = max(present, key=lambda s: s[1]) if above else min(present, key=lambda s: s[1])
        out.append([pick[0], pick[1]])
    return out


def windowed_threshold(
    name: str,
    series_by_service: Mapping[str, Series],
    threshold: float,
    sustain_s: float,
    step_s: float,
    window_s: float,
    min_coverage: float = 0.8,
    unit: str = "%",
    above: bool = True,
) -> Verdict:
    """No service beyond ``threshold`` for ``sustain_s``; too little data on any service is INCONCLUSIVE."""
    relation = ">" if above else "<"
    expected = (
        f"{name} {'<' if above else '>'}= {_fmt(threshold, unit)} per service; "
        f"{relation} {_fmt(threshold, unit)} sustained {_dur(sustain_s)} fails; "
        f"coverage >= {min_coverage:.0%} of {_dur(window_s)}"
    )
    if not series_by_service:
        return inconclusive(f"{name}: no service has any series (no data is never a pass)", expected=expected)
    wanted = max(1, round(window_s / step_s))
    per_service: dict[str, Any] = {}
    spikes: dict[str, Run] = {}
    charts: dict[str, Any] = {}
    breaches: list[str] = []
    missing: list[str] = []
    for service in sorted(series_by_service):
        series = series_by_service[service]
        facts = stats(series)
        coverage = min(1.0, facts["samples"] / wanted)
        facts["coverage"] = round(coverage, 3)
        per_service[service] = facts
        charts[service] = downsample(series, above=above)
        breach = sustained_breach(series, threshold, sustain_s, step_s, above)
        if breach and breach.spike:
            spikes[service] = breach.spike
        if breach and breach.sustained:
            run = breach.sustained
            facts["breach"] = run.as_dict()
            breaches.append(
                f"{service} {relation} {_fmt(threshold, unit)} for {_dur(run.duration_s)} "
                f"from {_clock(run.start)} (peak {_fmt(run.peak, unit)})"
            )
        if facts["samples"] == 0:
            missing.append(f"{service}: no samples")
        elif coverage < min_coverage:
            missing.append(f"{service}: only {coverage:.0%} of the window has data")
    details = {
        "services": per_service,
        "spikes": {s: r.as_dict() for s, r in spikes.items()},
        "series": charts,
        "threshold": threshold,
        "unit": unit,
        "sustain_s": sustain_s,
        "step_s": step_s,
        "window_s": window_s,
    }
    observed = {
        s: {"max" if above else "min": f[("max" if above else "min")], "last": f["last"], "coverage": f["coverage"]}
        for s, f in per_service.items()
    }
    if breaches:
        reason = f"{name} sustained beyond the limit: " + "; ".join(breaches)
        if missing:
            reason += "; also " + "; ".join(missing)
        return failed(reason, observed=observed, expected=expected, **details)
    if missing:
        return inconclusive(
            f"{name} cannot be judged (no data is never a pass): " + "; ".join(missing),
            observed=observed,
            expected=expected,
            **details,
        )
    reason = f"{name} within {_fmt(threshold, unit)} for all {len(per_service)} service(s)"
    if spikes:
        reason += "; transient spike(s): " + "; ".join(
            f"{s} {_fmt(sp.peak, unit)} for {_dur(sp.duration_s)} at {_clock(sp.start)}" for s, sp in spikes.items()
        )
    return passed(reason, observed=observed, expected=expected, **details)


def ratio_series(new_series: Series, old_series: Series, floor: float, step_s: float) -> list[tuple[float, float]]:
    """new / max(old, floor) at each step where both sides have a value (aligned to the step)."""
    old_by_slot = {_slot(ts, step_s): v for ts, v in valid(old_series)}
    out: list[tuple[float, float]] = []
    for ts, new in valid(new_series):
        old = old_by_slot.get(_slot(ts, step_s))
        if old is None:
            continue
        basis = max(old, floor)
        if basis <= 0:
            out.append((ts, 0.0 if new <= 0 else math.inf))
        else:
            out.append((ts, new / basis))
    return out


def mann_whitney(new: Sequence[float], old: Sequence[float]) -> dict[str, Any] | None:
    """One-sided Mann-Whitney U (new > old) with its rank-biserial effect size; None if too few samples."""
    if len(new) < MIN_U_SAMPLES or len(old) < MIN_U_SAMPLES:
        return None
    from scipy.stats import mannwhitneyu

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = mannwhitneyu(list(new), list(old), alternative="greater")
        except ValueError:
            return None
    u = float(result.statistic)
    p = float(result.pvalue)
    effect = 2.0 * u / (len(new) * len(old)) - 1.0
    return {
        "test": "mann-whitney-u, alternative=greater",
        "u": u,
        "p_value": None if math.isnan(p) else p,
        "rank_biserial": round(effect, 4),
        "n_new": len(new),
        "n_old": len(old),
    }


def relative_to_baseline(
    name: str,
    new_series: Series,
    old_series: Series,
    max_ratio: float,
    floor: float,
    min_requests: int,
    requests_new: float | None,
    requests_old: float | None,
    sustain_s: float,
    step_s: float,
    unit: str = "%",
    u_test: bool = True,
) -> Verdict:
    """new <= max_ratio x max(old, floor) per step, unless sustained; low traffic is INCONCLUSIVE."""
    expected = (
        f"new {name} <= {max_ratio:g}x old (old floored at {_fmt(floor, unit)}), "
        f"not exceeded for {_dur(sustain_s)}; >= {min_requests} requests per version"
    )
    counts = {"requests_new": requests_new, "requests_old": requests_old, "min_requests": min_requests}
    short = [
        f"{side} version served {_count(n)} request(s)"
        for side, n in (("new", requests_new), ("old", requests_old))
        if n is None or n < min_requests
    ]
    if short:
        return inconclusive(
            f"{name}: too little traffic to compare ({'; '.join(short)}; need {min_requests})",
            observed=counts,
            expected=expected,
            **counts,
        )
    ratios = ratio_series(new_series, old_series, floor, step_s)
    needed = max(2, math.floor(sustain_s / step_s) + 1)
    new_valid, old_valid = valid(new_series), valid(old_series)
    details: dict[str, Any] = {
        **counts,
        "max_ratio": max_ratio,
        "floor": floor,
        "sustain_s": sustain_s,
        "step_s": step_s,
        "new": stats(new_series),
        "old": stats(old_series),
        "aligned_samples": len(ratios),
        "series": {"new": downsample(new_series), "old": downsample(old_series), "ratio": downsample(ratios)},
    }
    if u_test:
        details["mann_whitney"] = mann_whitney([v for _, v in new_valid], [v for _, v in old_valid])
    if len(ratios) < needed:
        return inconclusive(
            f"{name}: only {len(ratios)} step(s) where both versions have data "
            f"(need {needed} to judge {_dur(sustain_s)})",
            observed={**counts, "aligned_samples": len(ratios)},
            expected=expected,
            **details,
        )
    breach = sustained_breach(ratios, max_ratio, sustain_s, step_s)
    ratio_values = [v for _, v in ratios]
    observed = {
        "max_ratio": _round(max(ratio_values)),
        "last_ratio": _round(ratio_values[-1]),
        "new_mean": details["new"]["mean"],
        "old_mean": details["old"]["mean"],
        **counts,
    }
    if breach and breach.spike:
        details["spike"] = breach.spike.as_dict()
    if breach and breach.sustained:
        run = breach.sustained
        details["breach"] = run.as_dict()
        return failed(
            f"new {name} {run.peak:.3g}x the old version (limit {max_ratio:g}x) for "
            f"{_dur(run.duration_s)} from {_clock(run.start)} "
            f"(new mean {_fmt(details['new']['mean'], unit)}, "
            f"old {_fmt(details['old']['mean'], unit)})",
            observed=observed,
            expected=expected,
            **details,
        )
    reason = (
        f"new {name} at most {max(ratio_values):.3g}x the old version's (limit {max_ratio:g}x, "
        f"floor {_fmt(floor, unit)})"
    )
    if breach and breach.spike:
        reason += f"; transient {breach.spike.peak:.3g}x for {_dur(breach.spike.duration_s)}"
    return passed(reason, observed=observed, expected=expected, **details)


def slope_per_hour(series: Series) -> tuple[float, float] | None:
    """Least-squares slope (value per hour) and mean of the finite samples; None if fewer than two times."""
    points = [(ts, v) for ts, v in valid(series) if math.isfinite(v)]
    if len(points) < 2:
        return None
    n = len(points)
    mean_t = math.fsum(ts for ts, _ in points) / n
    mean_v = math.fsum(v for _, v in points) / n
    sxx = math.fsum((ts - mean_t) ** 2 for ts, _ in points)
    if sxx == 0:
        return None
    sxy = math.fsum((ts - mean_t) * (v - mean_v) for ts, v in points)
    return sxy / sxx * 3600.0, mean_v


def trend_not_increasing(series: Series, tolerance_pct_per_h: float, name: str = "series", unit: str = "") -> Verdict:
    """The least-squares slope, relative to the mean, grows by at most ``tolerance_pct_per_h`` per hour."""
    expected = f"{name} slope <= {tolerance_pct_per_h:g}% of its mean per hour"
    points = [(ts, v) for ts, v in valid(series) if math.isfinite(v)]
    if len(points) < MIN_TREND_SAMPLES:
        return inconclusive(
            f"{name}: {len(points)} sample(s), need {MIN_TREND_SAMPLES} to judge a trend",
            observed={"samples": len(points)},
            expected=expected,
        )
    fit = slope_per_hour(points)
    if fit is None:
        return inconclusive(f"{name}: all samples share one timestamp; no trend", expected=expected)
    slope, mean = fit
    relative = 100.0 * slope / mean if mean > 0 else (0.0 if slope <= 0 else math.inf)
    span_h = (points[-1][0] - points[0][0]) / 3600.0
    observed = {
        "slope_per_h": _round(slope),
        "relative_pct_per_h": _round(relative),
        "mean": _round(mean),
        "samples": len(points),
        "span_h": round(span_h, 3),
        "first": points[0][1],
        "last": points[-1][1],
    }
    details = {"series": downsample(points), "unit": unit, "tolerance_pct_per_h": tolerance_pct_per_h}
    if relative > tolerance_pct_per_h:
        return failed(
            f"{name} rising {relative:.2f}%/h of its mean ({slope:+.4g}{_sep(unit)}{unit}/h over "
            f"{span_h:.2g} h; limit {tolerance_pct_per_h:g}%/h)",
            observed=observed,
            expected=expected,
            **details,
        )
    return passed(
        f"{name} trend {relative:+.2f}%/h of its mean (limit {tolerance_pct_per_h:g}%/h)",
        observed=observed,
        expected=expected,
        **details,
    )


def catastrophic(series: Series, threshold: float, factor: float = 10, consecutive: int = 2) -> bool:
    """``consecutive`` valid samples in a row above ``factor`` x ``threshold`` (missing ones skipped)."""
    limit = factor * threshold
    streak = 0
    for _, value in valid(series):
        streak = streak + 1 if value > limit else 0
        if streak >= max(consecutive, 1):
            return True
    return False


# -- formatting -----------------------------------------------------------------------------------
def _slot(ts: float, step_s: float) -> int:
    return round(ts / step_s) if step_s > 0 else round(ts)


def _round(value: float) -> float:
    return value if not math.isfinite(value) else round(value, 6)


def _sep(unit: str) -> str:
    return "" if unit in ("", "%") else " "


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    return f"{value:.4g}{_sep(unit)}{unit}"


def _count(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.0f}"


def _dur(seconds: float) -> str:
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{secs}s" if secs else ""]
    return "".join(parts) or "0s"


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _clock(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
