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

from nova_gate.verdict import Verdict, failed, inconclusive, passed, warned

Sample = tuple[float, float | None]
Series = Sequence[Sample]

#: at most this many points per series go into the evidence (for charts)
CHART_POINTS = 120
#: fewer valid samples than this and a trend is not judged
MIN_TREND_SAMPLES = 10
#: a trend gate's nominal budget for WARNs on flat series, split over its series (Bonferroni); the
#: interval is conservative, so the measured rate is lower (P24-1, 11 services at 6 req/s, 0.15 %
#: errors: 9 WARNs in 1500 flat days, against 5 % with the point estimate alone)
WARN_FAMILY_ALPHA = 0.05
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


def runs_beyond(
    series: Series,
    threshold: float,
    step_s: float,
    above: bool = True,
    max_gap_scrapes: int = 1,
    inclusive: bool = False,
) -> list[Run]:
    """Every run of samples beyond ``threshold``; up to ``max_gap_scrapes`` missing steps inside a run do
    not end it. ``inclusive``: a limit written "< X" is breached at exactly X."""
    runs: list[Run] = []
    current: list[tuple[float, float]] = []
    max_gap = (max_gap_scrapes + 1) * step_s + 1e-6 * max(step_s, 1.0)

    def close() -> None:
        if current:
            values = [v for _, v in current]
            peak = max(values) if above else min(values)
            runs.append(Run(current[0][0], current[-1][0], peak, len(current)))
            current.clear()

    for ts, value in valid(series):
        if inclusive:
            beyond = value >= threshold if above else value <= threshold
        else:
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
    series: Series,
    threshold: float,
    sustain_s: float,
    step_s: float,
    above: bool = True,
    max_gap_scrapes: int = 1,
    inclusive: bool = False,
) -> Breach | None:
    """The first run beyond ``threshold`` lasting ``sustain_s`` and the worst shorter spike; None if none."""
    runs = runs_beyond(series, threshold, step_s, above, max_gap_scrapes, inclusive)
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


def _fail_or_unsure(
    headline: str,
    fails: list[str],
    unsure: list[str],
    name: str,
    observed: Any,
    expected: str,
    details: dict[str, Any],
) -> Verdict | None:
    """Any service beyond the limit FAILs (the unjudged ones said too); else any unjudged is INCONCLUSIVE."""
    if fails:
        reason = f"{headline}: " + "; ".join(fails)
        if unsure:
            reason += "; also " + "; ".join(unsure)
        return failed(reason, observed=observed, expected=expected, **details)
    if unsure:
        return inconclusive(
            f"{name} cannot be judged (no data is never a pass): " + "; ".join(unsure),
            observed=observed,
            expected=expected,
            **details,
        )
    return None


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
    max_gap_scrapes: int = 1,
    inclusive: bool = False,
) -> Verdict:
    """No service beyond ``threshold`` for ``sustain_s``; too little data on any service is INCONCLUSIVE.

    A run beyond the threshold that is still going where the data stops before the window's end is
    INCONCLUSIVE (a breach running into missing data is never a pass)."""
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
        breach = sustained_breach(series, threshold, sustain_s, step_s, above, max_gap_scrapes, inclusive)
        present = valid(series)
        if (
            breach
            and not breach.sustained
            and present
            and series
            and breach.spike is not None
            and any(
                r.end == present[-1][0]
                for r in runs_beyond(series, threshold, step_s, above, max_gap_scrapes, inclusive)
            )
            and max(float(ts) for ts, _ in series) - present[-1][0] > step_s * 0.5
        ):
            missing.append(f"{service}: beyond {_fmt(threshold, unit)} when the data stops before the window's end")
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
    settled = _fail_or_unsure(
        f"{name} sustained beyond the limit", breaches, missing, name, observed, expected, details
    )
    if settled is not None:
        return settled
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


# == judgment on counts (CAN-3/4/5, SCL-2/3/4, MON-3/4; semantics in nova_gate/rules/counts.py) ========
@dataclass(frozen=True)
class WindowCounts:
    """Sliding-window counts on the step grid: at ``ts[i]``, ``events[i]`` (errors, or requests slower
    than a limit) and ``total[i]`` requests in ``(ts[i] - window, ts[i]]``; None = no data at that step.
    ``display`` is what a chart shows per step (the ratio in %, or a quantile in ms)."""

    ts: Sequence[float]
    events: Sequence[float | None]
    total: Sequence[float | None]
    display: Sequence[float | None] | None = None


@dataclass(frozen=True)
class BucketCounts:
    """Sliding-window histogram counts: ``cum[i]`` = cumulative counts at ``bounds`` plus +Inf, or None."""

    ts: Sequence[float]
    bounds: Sequence[float]
    cum: Sequence[Sequence[float] | None]

    def arrays(self) -> tuple[Any, Any]:
        """(cum (1, S, B+1) with missing rows zeroed, missing (1, S))."""
        import numpy as np

        width = len(self.bounds) + 1
        rows = [list(c) if c is not None and len(c) == width and not _bad(c[-1]) else None for c in self.cum]
        missing = np.array([[r is None for r in rows]], dtype=bool)
        cum = np.array([[([0.0] * width if r is None else [0.0 if _bad(v) else float(v) for v in r]) for r in rows]])
        cum = np.maximum.accumulate(cum.reshape(1, len(rows), width), axis=-1)
        return cum, missing

    def quantile_ms(self, q: float) -> list[float | None]:
        import numpy as np

        if not self.bounds:
            return [None] * len(self.ts)

        from nova_gate.rules.counts import histogram_quantile

        cum, missing = self.arrays()
        values = histogram_quantile(q, cum, np.asarray(self.bounds, dtype=float))[0] * 1000.0
        return [None if m or math.isnan(v) else round(float(v), 3) for v, m in zip(values, missing[0], strict=True)]

    def for_latency(self, q: float, limit_ms: float) -> WindowCounts:
        """Requests slower than ``limit_ms`` per window: "P_q > X" is "more than (1-q) of requests above X"."""
        import numpy as np

        from nova_gate.rules.counts import slow_counts

        if not self.bounds:  # no histogram at all: no data
            return WindowCounts(list(self.ts), [None] * len(self.ts), [None] * len(self.ts), [None] * len(self.ts))
        cum, missing = self.arrays()
        slow = slow_counts(cum, np.asarray(self.bounds, dtype=float), limit_ms / 1000.0)[0]
        total = cum[0, :, -1]
        return WindowCounts(
            list(self.ts),
            [None if m else float(s) for s, m in zip(slow, missing[0], strict=True)],
            [None if m else float(n) for n, m in zip(total, missing[0], strict=True)],
            self.quantile_ms(q),
        )


def _bad(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


#: a relative cell's false-FAIL rate on healthy traffic, as a multiple of its breach level (an upper
#: bound of what bench/judgment.py --scan measures: at most 0.17 on its grid, >= 4000 trials a point)
SCAN_FACTOR = 0.25


@dataclass(frozen=True)
class CountRules:
    """How counts are judged: sliding window, sustain, gaps, confidence; all in seconds/steps."""

    window_s: float = 300.0
    sustain_s: float = 300.0
    step_s: float = 15.0
    max_gap_scrapes: int = 4
    alpha: float = 0.05
    alpha_breach: float = 0.25
    #: breach level of the new-vs-old error ratio (the old version's own count noise is in it too)
    alpha_ratio: float = 0.1
    min_coverage: float = 0.8
    #: the gate's false-ROLLBACK budget for its new-vs-old comparisons, split over ``family`` cells
    #: (Bonferroni: items x services); see :meth:`relative_alpha` and the README's family-wise bound
    family_alpha: float = 0.05
    family: int = 1

    def breach_alpha(self, gate_window_s: float, base: float | None = None) -> float:
        """The breach level for a gate window: as calibrated (bench/judgment.py) up to 30 minutes, then
        scaled down with the window so a 2 h or 24 h window is not more likely to fail on noise."""
        level = self.alpha_breach if base is None else base
        return level * min(1.0, 1800.0 / max(gate_window_s, 1.0))

    def relative_alpha(self, gate_window_s: float, base: float | None = None) -> float:
        """The breach level of one new-vs-old cell: at most its Bonferroni share of the gate's budget.

        Two versions that serve alike are the healthy state of a relative rule, and the noise of both
        versions' small error counts reaches a 2x ratio now and then: one cell's sliding-window search
        over a 30-minute window, at level a, falsely fails in at most ``SCAN_FACTOR`` x a of healthy
        trials (measured by ``bench/judgment.py --scan`` over 1-50 req/s, 0.1-2 % errors, 5-50 % shares),
        so ``family_alpha / (SCAN_FACTOR x family)`` per cell bounds the gate's false-ROLLBACK probability
        by ``family_alpha`` (union bound over its cells)."""
        return min(self.breach_alpha(gate_window_s, base), self.family_alpha / (SCAN_FACTOR * max(1, self.family)))

    @property
    def window_steps(self) -> int:
        """Steps between disjoint windows (rounded up: windows never overlap when pooled)."""
        return max(1, math.ceil(self.window_s / self.step_s - 1e-9))

    @property
    def sustain_steps(self) -> int:
        return max(1, math.ceil(self.sustain_s / self.step_s - 1e-9))


def _arrays(counts: WindowCounts) -> tuple[Any, Any, Any]:
    import numpy as np

    total = [None if _bad(n) else float(n) for n in counts.total]  # type: ignore[arg-type]
    missing = np.array([[n is None for n in total]], dtype=bool)
    n = np.array([[0.0 if v is None else max(v, 0.0) for v in total]])
    e = np.array(
        [
            [
                0.0 if total[i] is None or _bad(ev) else min(max(float(ev), 0.0), n[0, i])  # type: ignore[arg-type]
                for i, ev in enumerate(counts.events)
            ]
        ]
    )
    return e, n, missing


@dataclass(frozen=True)
class _Judged:
    """The engine's findings for one series, in plain Python."""

    steps: int
    present: int
    first: int
    start: int
    pooled: tuple[float, ...]  # the breaching stretch's pooled counts
    whole: tuple[float, ...]  # the whole window's pooled counts
    whole_within: bool
    open_end: bool
    trailing_missing: int
    pending_from: int  # first step of an above-the-limit run still going at the end (-1: none)
    spikes: list[tuple[int, int]]  # (first, last) step of above-the-limit runs that did not sustain


def _engine(counts: tuple[Any, ...], missing: Any, tests: tuple[Any, Any, Any], rules: CountRules) -> _Judged:
    import numpy as np

    from nova_gate.rules.counts import consecutive_missing, pooled_tiles, sustained

    beyond, within, above = tests
    found = sustained(counts, missing, beyond, within, rules.window_steps, rules.sustain_steps, rules.max_gap_scrapes)
    steps = int(missing.shape[1])
    first, start = int(found.first[0]), int(found.start[0])
    pooled: tuple[float, ...] = ()
    if first >= 0:
        picks = list(range(first, start - 1, -rules.window_steps))
        pooled = tuple(float(np.asarray(a)[0, picks].sum()) for a in counts if np.asarray(a).ndim == 2)
    present_idx = np.flatnonzero(~missing[0])
    last_present = int(present_idx[-1]) if present_idx.size else -1
    whole_counts = pooled_tiles(counts, rules.window_steps, end=max(last_present, 0))
    whole_within = (
        bool(within(tuple(np.asarray(a)[:, None] for a in whole_counts))[0, 0]) if present_idx.size else False
    )
    whole = tuple(float(np.asarray(a)[0]) for a in whole_counts if np.asarray(a).ndim == 1)
    up = above(counts)[0] & ~missing[0]
    trailing = int(consecutive_missing(missing)[0, -1])
    open_end = bool(trailing > 0 and last_present >= 0 and up[last_present])
    # runs of above-the-limit windows (gaps up to max_gap bridged): spikes and a pending one at the end
    runs: list[tuple[int, int]] = []
    cur: list[int] = []
    for i in present_idx.tolist():
        if up[i]:
            if cur and i - cur[-1] - 1 > rules.max_gap_scrapes:
                runs.append((cur[0], cur[-1]))
                cur = []
            cur.append(i)
        elif cur:
            runs.append((cur[0], cur[-1]))
            cur = []
    pending = -1
    if cur:
        if cur[-1] == last_present:
            pending = cur[0]
        else:
            runs.append((cur[0], cur[-1]))
    # pending: the latest window is clearly above the limit, but not (yet) for the sustain
    last_window = tuple(np.asarray(a)[:, max(last_present, 0)][:, None] for a in counts)
    if pending < 0 or last_present < 0 or not bool(beyond(last_window)[0, 0]):
        pending = -1
    return _Judged(
        steps, int(present_idx.size), first, start, pooled, whole, whole_within, open_end, trailing, pending, runs
    )


def count_threshold(
    name: str,
    counts_by_service: Mapping[str, WindowCounts],
    limit: float,
    rules: CountRules,
    gate_window_s: float,
    unit: str = "%",
    what: str = "error ratio",
    events: str = "errors",
    tail: float | None = None,
    inclusive: bool = False,
) -> Verdict:
    """No service's ``events/requests`` clearly above the limit sustained; PASS needs evidence.

    ``limit`` is in ``unit`` (1.0 = 1 %). For latency, ``tail`` is the allowed fraction of slow requests
    (0.05 for P95) and ``limit`` the latency in ms; the counts are the requests slower than ``limit``.
    """
    from nova_gate.rules.counts import excess_tests, poisson_lower, poisson_upper, requests_needed

    fraction = tail if tail is not None else limit / 100.0
    rel = "<" if inclusive else "<="
    expected = (
        f"{name} {rel} {_fmt(limit, unit)} per service, judged on {_dur(rules.window_s)} windows of counts: "
        f"clearly above (lower {1 - rules.breach_alpha(gate_window_s):.1%} bound) and no window clearly within "
        f"for {_dur(rules.sustain_s)} fails, "
        f"the window must be clearly within to pass; coverage >= {rules.min_coverage:.0%} of {_dur(gate_window_s)}"
    )
    if not counts_by_service:
        return inconclusive(f"{name}: no service has any series (no data is never a pass)", expected=expected)
    level = rules.breach_alpha(gate_window_s)
    tests = excess_tests(fraction, rules.alpha, inclusive, level)
    per_service: dict[str, Any] = {}
    charts: dict[str, Any] = {}
    fails: list[str] = []
    unsure: list[str] = []
    notes: list[str] = []

    def pct(x: float) -> str:
        return f"{100 * x:.3g}%"

    for service in sorted(counts_by_service):
        counts = counts_by_service[service]
        e, n, missing = _arrays(counts)
        display = counts.display if counts.display is not None else _ratio_display(e, n, missing)
        charts[service] = downsample(list(zip(counts.ts, display, strict=False)))
        facts: dict[str, Any] = {"steps": int(missing.shape[1]), "present": int((~missing).sum())}
        per_service[service] = facts
        if facts["present"] == 0:
            unsure.append(f"{service}: no samples")
            continue
        j = _engine((e, n), missing, tests, rules)
        coverage = j.present / max(1, round(gate_window_s / rules.step_s) + 1)
        facts["coverage"] = round(min(1.0, coverage), 3)
        we, wn = j.whole
        facts.update(requests=round(wn, 1), **{events: round(we, 1)})
        facts["ratio"] = _round(we / wn) if wn > 0 else None
        facts["upper_bound"] = _round(float(poisson_upper(we, rules.alpha)) / wn) if wn > 0 else None
        facts["spikes"] = [_span(counts.ts, a, b) for a, b in j.spikes]
        if j.first >= 0:
            pe, pn = j.pooled
            lo = float(poisson_lower(pe, level)) / pn
            facts["breach"] = {
                **_span(counts.ts, j.start, j.first),
                "pooled_requests": round(pn, 1),
                f"pooled_{events}": round(pe, 1),
                "pooled_ratio": _round(pe / pn),
                "lower_bound": _round(lo),
            }
            fails.append(
                f"{service} above {_fmt(limit, unit)}: {pct(pe / pn)} of {pn:.0f} requests {events} "
                f"(lower bound {pct(lo)}{'' if tail is None else f', limit {pct(fraction)}'}) "
                f"from {_clock(counts.ts[j.start])} to {_clock(counts.ts[j.first])}, no window clearly within"
            )
            continue
        if j.open_end:
            unsure.append(
                f"{service}: above {_fmt(limit, unit)} when the data stops ({j.trailing_missing} scrape(s) "
                "missing at the end): a breach running into missing data is never a pass"
            )
            continue
        if j.pending_from >= 0:
            unsure.append(
                f"{service}: clearly above {_fmt(limit, unit)} since {_clock(counts.ts[j.pending_from])}, "
                f"not yet for {_dur(rules.sustain_s)} (pending: judge again later)"
            )
            continue
        if coverage < rules.min_coverage:
            unsure.append(f"{service}: only {min(coverage, 1.0):.0%} of the window has data")
            continue
        if not j.whole_within:
            ratio = we / wn if wn > 0 else 0.0
            need = requests_needed(ratio, fraction, rules.alpha)
            needs = f"needs about {need} requests at this ratio" if need is not None else "it is at or above the limit"
            unsure.append(
                f"{service}: {wn:.0f} requests, {we:.0f} {events} ({pct(ratio)}, upper bound "
                f"{pct(float(poisson_upper(we, rules.alpha)) / wn) if wn > 0 else 'n/a'}): too few to tell it is "
                f"within {pct(fraction)}; {needs}"
            )
            facts["requests_needed"] = need
            continue
        for a, b in j.spikes:
            notes.append(f"{service} spike {_clock(counts.ts[a])}..{_clock(counts.ts[b])}")
    details = {
        "services": per_service,
        "series": charts,
        "threshold": limit,
        "unit": unit,
        "method": "sliding-window counts, exact Poisson bounds",
        "rules": rules.__dict__,
        "spikes": {s: f["spikes"] for s, f in per_service.items() if f.get("spikes")},
    }
    observed = {
        s: {k: f.get(k) for k in ("ratio", "upper_bound", "requests", "coverage")} for s, f in per_service.items()
    }
    settled = _fail_or_unsure(f"{name} sustained above the limit", fails, unsure, name, observed, expected, details)
    if settled is not None:
        return settled
    reason = f"{name} clearly within {_fmt(limit, unit)} for all {len(per_service)} service(s)"
    if notes:
        reason += "; transient: " + "; ".join(notes[:5])
    return passed(reason, observed=observed, expected=expected, **details)


def _ratio_display(e: Any, n: Any, missing: Any) -> list[float | None]:
    return [
        None if m or nn <= 0 else round(100.0 * ee / nn, 4)
        for ee, nn, m in zip(e[0].tolist(), n[0].tolist(), missing[0].tolist(), strict=True)
    ]


def _span(ts: Sequence[float], a: int, b: int) -> dict[str, Any]:
    return {"start": _iso(ts[a]), "end": _iso(ts[b]), "duration_s": float(ts[b] - ts[a])}


def relative_counts(
    name: str,
    new: WindowCounts,
    old: WindowCounts,
    max_ratio: float,
    floor_pct: float,
    min_requests: int,
    rules: CountRules,
) -> Verdict:
    """SCL-2: new error ratio > max_ratio x max(old, floor), on both versions' counts over the same windows."""
    import numpy as np

    from nova_gate.rules.counts import ratio_bounds, ratio_tests

    expected = (
        f"new {name} <= {max_ratio:g}x old (old floored at {floor_pct:g}%) on {_dur(rules.window_s)} windows "
        f"of counts; clearly above for {_dur(rules.sustain_s)} fails; >= {min_requests} requests per version"
    )
    e1, n1, m1 = _arrays(new)
    e0, n0, m0 = _arrays(_align(new, old))
    missing = m1 | m0
    return _relative_verdict(
        name,
        new,
        (e1, n1, e0, n0),
        missing,
        ratio_tests(max_ratio, floor_pct / 100.0, rules.alpha, rules.relative_alpha(_span_s(new), rules.alpha_ratio)),
        rules,
        min_requests,
        max_ratio,
        expected,
        lambda c: _ratio_text(c, rules.alpha, ratio_bounds, floor_pct, np),
        {"new": _ratio_display(e1, n1, m1), "old": _ratio_display(e0, n0, m0)},
    )


def _ratio_text(c: tuple[float, ...], alpha: float, ratio_bounds: Any, floor_pct: float, np: Any) -> str:
    e1, n1, e0, n0 = c
    lo, hi = ratio_bounds(np.array(e1), np.array(n1), np.array(e0), np.array(n0), alpha)
    p1 = 100 * e1 / n1 if n1 else 0.0
    p0 = 100 * e0 / n0 if n0 else 0.0
    return f"new {p1:.3g}% of {n1:.0f} vs old {p0:.3g}% of {n0:.0f} (ratio bounds {float(lo):.3g}..{float(hi):.3g})"


def relative_latency(
    name: str,
    new: BucketCounts,
    old: BucketCounts,
    q: float,
    max_ratio: float,
    floor_ms: float,
    min_requests: int,
    rules: CountRules,
) -> Verdict:
    """SCL-3 / P24-2: new P_q > max_ratio x max(old P_q, floor), from both versions' histogram buckets."""
    import numpy as np

    from nova_gate.rules.counts import histogram_quantile, latency_ratio_tests

    bounds = np.asarray(new.bounds, dtype=float)
    expected = (
        f"new {name} <= {max_ratio:g}x old (floor {floor_ms:g} ms) from both versions' histogram buckets on "
        f"{_dur(rules.window_s)} windows; clearly above for {_dur(rules.sustain_s)} fails; "
        f">= {min_requests} requests per version"
    )
    if not new.bounds or not old.bounds:
        return inconclusive(f"{name}: a version has no histogram samples (no data is never a pass)", expected=expected)
    if list(new.bounds) != list(old.bounds):
        return inconclusive(f"{name}: the versions' histogram buckets differ; cannot compare", expected=expected)
    c1, m1 = new.arrays()
    c0, m0 = _align_buckets(new, old).arrays()
    missing = m1 | m0

    def text(c: tuple[Any, ...]) -> str:
        q1 = float(histogram_quantile(q, np.asarray(c[0]), bounds)) * 1000
        q0 = float(histogram_quantile(q, np.asarray(c[1]), bounds)) * 1000
        n1, n0 = float(np.asarray(c[0])[-1]), float(np.asarray(c[1])[-1])
        return f"new {q1:.4g} ms vs old {q0:.4g} ms over {n1:.0f}/{n0:.0f} requests"

    return _relative_verdict(
        name,
        WindowCounts(list(new.ts), [], [None if m else 1.0 for m in m1[0]]),
        (c1, c0),
        missing,
        latency_ratio_tests(q, max_ratio, floor_ms / 1000.0, rules.alpha, bounds, rules.relative_alpha(_span_s(new))),
        rules,
        min_requests,
        max_ratio,
        expected,
        text,
        {"new": new.quantile_ms(q), "old": _align_buckets(new, old).quantile_ms(q)},
        totals=(c1[..., -1], c0[..., -1]),
    )


def _relative_verdict(
    name: str,
    grid: WindowCounts,
    counts: tuple[Any, ...],
    missing: Any,
    tests: tuple[Any, Any, Any],
    rules: CountRules,
    min_requests: int,
    max_ratio: float,
    expected: str,
    text: Any,
    display: dict[str, list[float | None]],
    totals: tuple[Any, Any] | None = None,
) -> Verdict:
    import numpy as np

    from nova_gate.rules.counts import pooled_tiles

    ts = list(grid.ts)
    series = {k: downsample(list(zip(ts, v, strict=False))) for k, v in display.items()}
    n_new, n_old = totals if totals is not None else (counts[1], counts[3])
    present = ~missing[0]
    details: dict[str, Any] = {
        "series": series,
        "max_ratio": max_ratio,
        "rules": rules.__dict__,
        "method": "sliding-window counts of both versions, exact bounds",
    }
    if not present.any():
        return inconclusive(f"{name}: no step where both versions have data", expected=expected, **details)
    j = _engine(counts, missing, tests, rules)
    whole = pooled_tiles(counts, rules.window_steps, end=int(np.flatnonzero(present)[-1]))
    req_new = float(np.asarray(pooled_tiles((n_new,), rules.window_steps, end=int(np.flatnonzero(present)[-1]))[0])[0])
    req_old = float(np.asarray(pooled_tiles((n_old,), rules.window_steps, end=int(np.flatnonzero(present)[-1]))[0])[0])
    counts_facts = {"requests_new": round(req_new, 1), "requests_old": round(req_old, 1), "min_requests": min_requests}
    details.update(counts_facts)
    whole_text = text(tuple(np.asarray(a)[0] for a in whole))
    observed = {**counts_facts, "window": whole_text}
    if j.first >= 0:
        picks = list(range(j.first, j.start - 1, -rules.window_steps))
        stretch = tuple(np.asarray(a)[0, picks].sum(axis=0) for a in counts)
        details["breach"] = {**_span(ts, j.start, j.first), "evidence": text(stretch)}
        return failed(
            f"new {name} clearly above {max_ratio:g}x the old version from {_clock(ts[j.start])} to "
            f"{_clock(ts[j.first])}: {text(stretch)}",
            observed=observed,
            expected=expected,
            **details,
        )
    short = [
        f"{side} version served {n:.0f} request(s)"
        for side, n in (("new", req_new), ("old", req_old))
        if n < min_requests
    ]
    if short:
        return inconclusive(
            f"{name}: too little traffic to compare ({'; '.join(short)}; need {min_requests})",
            observed=observed,
            expected=expected,
            **details,
        )
    if j.open_end or j.pending_from >= 0:
        return inconclusive(
            f"{name}: above {max_ratio:g}x the old version at the end of the window "
            f"({'the data stops' if j.open_end else 'pending, not yet sustained'}): never a pass",
            observed=observed,
            expected=expected,
            **details,
        )
    coverage = j.present / max(1, j.steps)
    if coverage < rules.min_coverage:
        return inconclusive(
            f"{name}: both versions have data in only {coverage:.0%} of the window",
            observed=observed,
            expected=expected,
            **details,
        )
    whole_above = bool(tests[2](tuple(np.asarray(a)[:, None] for a in whole))[0, 0])
    if whole_above and not j.whole_within:
        return inconclusive(
            f"{name}: above {max_ratio:g}x the old version over the window but not clearly ({whole_text}); "
            "more traffic needed to tell",
            observed=observed,
            expected=expected,
            **details,
        )
    # with the configured minimum traffic, "within" on the point estimate passes (the floors and the
    # sustained rule guard the rest); the window's own bounds are in the reason
    clearly = "clearly " if j.whole_within else ""
    reason = f"new {name} {clearly}within {max_ratio:g}x the old version ({whole_text})"
    if j.spikes:
        reason += f"; transient excursions: {len(j.spikes)}"
        details["spikes"] = [_span(ts, a, b) for a, b in j.spikes]
    return passed(reason, observed=observed, expected=expected, **details)


def _span_s(counts: WindowCounts | BucketCounts) -> float:
    return float(counts.ts[-1] - counts.ts[0]) if len(counts.ts) > 1 else 0.0


def _align(new: WindowCounts, old: WindowCounts) -> WindowCounts:
    """``old`` on ``new``'s step grid (missing where it has no sample)."""
    slots = {round(t): i for i, t in enumerate(old.ts)}
    picks = [slots.get(round(t)) for t in new.ts]
    return WindowCounts(
        list(new.ts),
        [None if i is None else old.events[i] for i in picks],
        [None if i is None else old.total[i] for i in picks],
    )


def _align_buckets(new: BucketCounts, old: BucketCounts) -> BucketCounts:
    slots = {round(t): i for i, t in enumerate(old.ts)}
    picks = [slots.get(round(t)) for t in new.ts]
    return BucketCounts(list(new.ts), list(old.bounds), [None if i is None else old.cum[i] for i in picks])


# == trends with a confidence interval (MON-5, P24-1) ===================================================
def slope_with_ci(points: Sequence[tuple[float, float]], alpha: float = 0.05) -> dict[str, float] | None:
    """OLS slope per hour with a one-sided ``1 - alpha`` interval widened for autocorrelated residuals
    (effective sample size from the lag-1 autocorrelation); None with fewer than 3 distinct times."""
    import numpy as np
    from scipy.special import stdtrit  # Student's t quantile without importing scipy.stats

    if len(points) < 3:
        return None
    x = np.array([p[0] for p in points], dtype=float) / 3600.0
    y = np.array([p[1] for p in points], dtype=float)
    x0 = x - x.mean()
    sxx = float((x0**2).sum())
    if sxx <= 0:
        return None
    slope = float((x0 * (y - y.mean())).sum() / sxx)
    resid = y - y.mean() - slope * x0
    n = len(y)
    rho = float(np.corrcoef(resid[:-1], resid[1:])[0, 1]) if n > 3 and resid.std() > 0 else 0.0
    rho = min(max(0.0 if math.isnan(rho) else rho, 0.0), 0.99)
    n_eff = max(3.0, n * (1 - rho) / (1 + rho))
    sigma2 = float((resid**2).sum() / max(n - 2, 1))
    se = math.sqrt(sigma2 / sxx * n / n_eff)
    q = float(stdtrit(max(n_eff - 2, 1), 1 - alpha))
    start = float(y.mean() + slope * (x[0] - x.mean()))
    return {
        "slope_per_h": slope,
        "lower_per_h": slope - q * se,
        "upper_per_h": slope + q * se,
        "se_per_h": se,
        "mean": float(y.mean()),
        "fitted_start": start,
        "span_h": float(x[-1] - x[0]),
        "samples": n,
        "n_eff": round(n_eff, 1),
    }


def trend_within(
    name: str,
    series: Series,
    window_s: float,
    step_s: float,
    *,
    rel_pct: float,
    abs_change: float,
    per: str = "window",
    min_coverage: float = 0.8,
    unit: str = "",
    alpha: float = 0.05,
    family: int = 1,
    warn_family_alpha: float = WARN_FAMILY_ALPHA,
) -> Verdict:
    """The series does not rise by more than the tolerance: FAIL when the slope's lower bound exceeds it.

    Tolerance in both terms, the larger wins: ``abs_change`` (in ``unit``) or ``rel_pct`` % of the fitted
    start value, per hour (``per="hour"``, MON-5's "5 % of its size per hour") or over the whole window
    (``per="window"``, P24-1: an error rate that doubles in 24 h is not flat). Coverage is checked: too
    little data, or data covering too little of the window, is INCONCLUSIVE.

    Between the two, a WARN (review) needs the estimated change above the tolerance *and* a rise told
    apart from noise: the change's lower bound at level ``warn_family_alpha / family`` above zero
    (Bonferroni over the ``family`` series the gate judges). A point estimate alone is above a
    tolerance of ~2.5 standard errors in ~0.5 % of flat series: a false review in ~5 % of healthy
    11-service days. The price: a rise of 1.2x the tolerance is flagged less often (24 % of series,
    against 65 %), one of 2x in 78 % (against 98 %); its FAIL is unchanged.
    """
    expected = (
        f"{name} rises by at most max({abs_change:g}{_sep(unit)}{unit}, {rel_pct:g}% of its start) "
        f"{'per hour' if per == 'hour' else 'over the window'}; coverage >= {min_coverage:.0%} of {_dur(window_s)}"
    )
    points = [(ts, v) for ts, v in valid(series) if math.isfinite(v)]
    wanted = max(1, round(window_s / step_s) + 1)
    coverage = len(points) / wanted
    span = (points[-1][0] - points[0][0]) if len(points) > 1 else 0.0
    observed: dict[str, Any] = {"samples": len(points), "coverage": round(min(coverage, 1.0), 3), "span_s": span}
    if len(points) < MIN_TREND_SAMPLES or coverage < min_coverage or span < min_coverage * window_s:
        return inconclusive(
            f"{name}: {len(points)} sample(s) over {_dur(span)} ({min(coverage, 1.0):.0%} of {_dur(window_s)}): "
            "too little of the window to judge a trend",
            observed=observed,
            expected=expected,
        )
    fit = slope_with_ci(points, alpha)
    if fit is None:
        return inconclusive(f"{name}: no spread in time; no trend", observed=observed, expected=expected)
    hours = 1.0 if per == "hour" else max(fit["span_h"], 1e-9)
    allowed = max(abs_change, rel_pct / 100.0 * abs(fit["fitted_start"]))
    change, low, high = (fit[k] * hours for k in ("slope_per_h", "lower_per_h", "upper_per_h"))
    observed.update(
        {
            "change": _round(change),
            "change_lower": _round(low),
            "change_upper": _round(high),
            "allowed": _round(allowed),
            "start": _round(fit["fitted_start"]),
            "n_eff": fit["n_eff"],
        }
    )
    what = "per hour" if per == "hour" else f"over {_dur(fit['span_h'] * 3600)}"
    details = {"series": downsample(points), "unit": unit, "fit": fit}
    text = f"{change:+.4g}{_sep(unit)}{unit} {what} (bounds {low:+.4g}..{high:+.4g}; allowed {allowed:.4g})"
    if low > allowed:
        return failed(f"{name} rising: {text}", observed=observed, expected=expected, **details)
    from scipy.special import stdtrit

    if change > allowed:
        warn_q = float(stdtrit(max(fit["n_eff"] - 2, 1), 1 - warn_family_alpha / max(1, family)))
        if change - warn_q * fit["se_per_h"] * hours > 0:
            return warned(
                f"{name} may be rising: {text}; not clearly beyond the tolerance (review)",
                observed=observed,
                expected=expected,
                **details,
            )
        return passed(
            f"{name}: {text}; the estimate is beyond the tolerance but the rise is not told apart from noise",
            observed=observed,
            expected=expected,
            **details,
        )
    return passed(f"{name} flat within tolerance: {text}", observed=observed, expected=expected, **details)


# == P24-2: a day's percentiles against the previous version's day (a review) ==========================
def day_histograms(
    raw: Mapping[tuple[str, ...], float | None],
) -> dict[tuple[str, str], tuple[list[float], list[float]]]:
    """{(service, version): (finite bounds, cumulative counts incl. +Inf)} from an instant query by le."""
    per: dict[tuple[str, str], dict[float, float]] = {}
    for key, value in raw.items():
        if len(key) < 3 or value is None:
            continue
        try:
            bound = float(key[2])
        except ValueError:
            continue
        per.setdefault((key[0], key[1]), {})[bound] = float(value)
    out: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
    for k, buckets in per.items():
        if math.inf not in buckets:
            continue
        bounds = sorted(b for b in buckets if b != math.inf)
        cum = [buckets[b] for b in bounds] + [buckets[math.inf]]
        running = 0.0
        fixed = []
        for c in cum:
            running = max(running, c)
            fixed.append(running)
        out[k] = (bounds, fixed)
    return out


def day_quantile_vs_old(
    name: str,
    new: tuple[list[float], list[float]] | None,
    old: tuple[list[float], list[float]] | None,
    q: float,
    max_ratio: float,
    floor_ms: float,
    min_requests: int,
    basis: str,
) -> Verdict:
    """The new version's day quantile <= max_ratio x max(old's, floor), from pooled histogram buckets."""
    import numpy as np

    from nova_gate.rules.counts import histogram_quantile

    expected = f"new {name} <= {max_ratio:g}x the previous version's ({basis}; floor {floor_ms:g} ms)"
    if new is None or old is None:
        side = "new" if new is None else "previous"
        return inconclusive(f"{name}: no histogram of the {side} version to compare ({basis})", expected=expected)
    if new[0] != old[0]:
        return inconclusive(f"{name}: the versions' histogram buckets differ", expected=expected)
    n_new, n_old = new[1][-1], old[1][-1]
    if n_new < min_requests or n_old < min_requests:
        return inconclusive(
            f"{name}: too little traffic to compare "
            f"(new {n_new:.0f}, previous {n_old:.0f} requests; need {min_requests})",
            expected=expected,
        )
    bounds = np.asarray(new[0], dtype=float)
    q_new = float(histogram_quantile(q, np.asarray(new[1]), bounds)) * 1000
    q_old = float(histogram_quantile(q, np.asarray(old[1]), bounds)) * 1000
    limit = max_ratio * max(q_old, floor_ms)
    observed = {"new_ms": round(q_new, 2), "old_ms": round(q_old, 2), "limit_ms": round(limit, 2), "basis": basis}
    text = f"new {q_new:.4g} ms vs previous {q_old:.4g} ms ({basis}; limit {limit:.4g} ms)"
    if q_new > limit:
        return failed(f"{name} regressed: {text}", observed=observed, expected=expected)
    return passed(f"{name}: {text}", observed=observed, expected=expected)


def as_review(verdict: Verdict) -> Verdict:
    """A review item never blocks: FAIL and INCONCLUSIVE become WARN (the reason says what to look at)."""
    from dataclasses import replace

    from nova_gate.verdict import Label

    if verdict.label in (Label.FAIL, Label.INCONCLUSIVE):
        return replace(verdict, label=Label.WARN, reason=f"review: {verdict.reason}")
    return verdict
