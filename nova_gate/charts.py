"""Inline SVG line charts for the HTML report (no JavaScript, no external assets).

What a reader needs from a metric chart of a gate:

- a time axis in clock time (UTC), ticks at round minutes/hours;
- gaps drawn as gaps: a missing sample (``None``) or a jump longer than 1.5 sampling steps breaks
  the line instead of joining across it;
- the threshold, and where the series are above it: a sustained breach (at least the sustain
  window, ``sustain_s``) is shaded and labelled with its length, a shorter spike lightly; the
  sustain window itself is drawn as a scale bar;
- full series names in a legend below the plot (and as tooltips on each line);
- on relative rules, the old (baseline) version dashed: the labels in ``baseline``, or by default
  the labels ending with the version after " vs " in the title ("P99: v1.0.0 vs v0.9.0").
"""

from __future__ import annotations

import datetime as dt
import html
import itertools
import math
import statistics
from collections.abc import Collection, Mapping, Sequence

COLOURS = [
    "#0969da",
    "#cf222e",
    "#1a7f37",
    "#8250df",
    "#bf8700",
    "#0550ae",
    "#a40e26",
    "#116329",
    "#6639ba",
    "#953800",
    "#57606a",
]
TICK_STEPS_S = [60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400]
Point = tuple[float, float | None]


def _points(pts: Sequence[Sequence[float | None]]) -> list[Point]:
    out: list[Point] = []
    for p in pts:
        if len(p) < 2 or p[0] is None:
            continue
        v = p[1]
        out.append((float(p[0]), None if v is None or v != v else float(v)))
    return sorted(out, key=lambda p: p[0])


def _step(all_series: list[list[Point]], step_s: float | None) -> float:
    if step_s:
        return float(step_s)
    deltas = [b[0] - a[0] for pts in all_series for a, b in itertools.pairwise(pts) if b[0] > a[0]]
    return statistics.median(deltas) if deltas else 60.0


def segments(pts: list[Point], step: float) -> list[list[tuple[float, float]]]:
    """Runs of consecutive samples: a None or a jump over 1.5 steps starts a new run."""
    runs: list[list[tuple[float, float]]] = []
    current: list[tuple[float, float]] = []
    last_t: float | None = None
    for t, v in pts:
        if v is None or (last_t is not None and t - last_t > 1.5 * step):
            if current:
                runs.append(current)
            current = []
        if v is not None:
            current.append((t, v))
        last_t = t if v is not None else None
    if current:
        runs.append(current)
    return runs


def breaches(all_series: list[list[Point]], threshold: float, step: float) -> list[tuple[float, float]]:
    """Time ranges where any series is above the threshold (a sample counts for one step)."""
    times = sorted({t for pts in all_series for t, v in pts if v is not None and v > threshold})
    ranges: list[tuple[float, float]] = []
    for t in times:
        if ranges and t - ranges[-1][1] <= 1.5 * step:
            ranges[-1] = (ranges[-1][0], t)
        else:
            ranges.append((t, t))
    return [(a, b + step) for a, b in ranges]


def nice_ceiling(value: float) -> float:
    """The next round number (1, 2, 2.5, 5 x 10^k) at or above ``value``, for the y axis."""
    if value <= 0:
        return 1.0
    exp = math.floor(math.log10(value))
    for m in (1, 2, 2.5, 5, 10):
        if m * 10**exp >= value * (1 - 1e-9):
            return float(m * 10**exp)
    return float(10 ** (exp + 1))


def _num(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"


def _clock(t: float, span: float) -> str:
    d = dt.datetime.fromtimestamp(t, dt.UTC)
    if span > 2 * 86400:
        return d.strftime("%m-%d %H:%M")
    return d.strftime("%H:%M")


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def line_chart(
    series: Mapping[str, Sequence[Sequence[float | None]]],
    threshold: float | None = None,
    title: str = "",
    unit: str = "",
    width: int = 640,
    height: int = 180,
    *,
    sustain_s: float | None = None,
    step_s: float | None = None,
    baseline: Collection[str] | None = None,
) -> str:
    """Series of ``[unix ts, value]`` points against an optional threshold, as an SVG string."""
    data = {label: _points(pts) for label, pts in series.items()}
    values = [v for pts in data.values() for _, v in pts if v is not None]
    if not values:
        return f"<p><i>{html.escape(title)}: no data</i></p>"
    times = [t for pts in data.values() for t, _ in pts]
    t0, t1 = min(times), max(times)
    step = _step(list(data.values()), step_s)
    t1 = max(t1, t0 + step)
    top = max([*values, threshold if threshold is not None else values[0]])
    v0, axis_top = min(0.0, *values), nice_ceiling(top)
    v1 = axis_top * 1.05
    if baseline is None and " vs " in title:
        old_version = title.rsplit(" vs ", 1)[1].strip()
        baseline = [label for label in data if label.endswith(f" {old_version}")]
    baseline = set(baseline or ())

    left, right, top_pad, axis_h = 52, 12, 18, 30
    plot_h = max(60, height - top_pad - axis_h)
    longest = max(len(label) for label in data) + (7 if baseline else 0)
    col_w = min(width - left - right, max(110, 6 * longest + 28))
    cols = max(1, (width - left - right) // col_w)
    legend_rows = -(-len(data) // cols)
    total_h = top_pad + plot_h + axis_h + 14 * legend_rows + 4

    def x(t: float) -> float:
        return left + (t - t0) / (t1 - t0) * (width - left - right)

    def y(v: float) -> float:
        return top_pad + plot_h - (v - v0) / ((v1 - v0) or 1) * plot_h

    u = html.escape(unit)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{total_h}" role="img" '
        f'style="font:10px sans-serif;background:#fff;border:1px solid #ddd">',
        f"<title>{html.escape(title)}</title>",
        f'<text x="{left}" y="12" font-weight="bold">{html.escape(title)}</text>',
    ]
    # breach / spike shading under everything else
    if threshold is not None:
        for a, b in breaches(list(data.values()), threshold, step):
            a, b = max(a, t0), min(b, t1)
            length = b - a
            sustained = sustain_s is not None and length >= sustain_s
            fill, opacity = ("#cf222e", 0.16) if sustained or sustain_s is None else ("#bf8700", 0.12)
            what = (
                f"breach {_minutes(length)} (sustain window {_minutes(sustain_s)})"
                if sustained and sustain_s is not None
                else f"above the limit {_minutes(length)}"
                if sustain_s is None
                else f"spike {_minutes(length)} (shorter than the {_minutes(sustain_s)} sustain window)"
            )
            parts.append(
                f'<rect x="{x(a):.1f}" y="{top_pad}" width="{max(1.5, x(b) - x(a)):.1f}" height="{plot_h}" '
                f'fill="{fill}" fill-opacity="{opacity}"><title>{html.escape(what)}</title></rect>'
            )
            if sustained or sustain_s is None:
                parts.append(
                    f'<text x="{x(a) + 2:.1f}" y="{top_pad + 20}" fill="#a40e26">'
                    f"{html.escape(what.split(' (')[0])}</text>"
                )
    # y grid and labels
    for frac in (0.0, 0.5, 1.0):
        v = v0 + (axis_top - v0) * frac
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#eaeef2"/>'
            f'<text x="{left - 4}" y="{y(v) + 3:.1f}" text-anchor="end">{_num(v)}{u}</text>'
        )
    # time axis in clock time
    span = t1 - t0
    tick = next((s for s in TICK_STEPS_S if span / s <= 7), TICK_STEPS_S[-1])
    first = (int(t0) // tick + 1) * tick if t0 % tick else int(t0)
    base_y = top_pad + plot_h
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{base_y}" y2="{base_y}" stroke="#8c959f"/>')
    t = float(first)
    while t <= t1:
        parts.append(
            f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{base_y}" y2="{base_y + 4}" stroke="#8c959f"/>'
            f'<text x="{x(t):.1f}" y="{base_y + 14}" text-anchor="middle">{_clock(t, span)}</text>'
        )
        t += tick
    parts.append(
        f'<text x="{width - right}" y="{base_y + 26}" text-anchor="end" fill="#57606a">UTC, '
        f"{_clock(t0, span)}–{_clock(t1, span)} ({_minutes(span)})</text>"
    )
    if sustain_s:
        bar = min(sustain_s, span)
        parts.append(
            f'<line x1="{left}" x2="{left + x(t0 + bar) - x(t0):.1f}" y1="{base_y + 22}" y2="{base_y + 22}" '
            f'stroke="#57606a" stroke-width="3"/><text x="{left + x(t0 + bar) - x(t0) + 4:.1f}" '
            f'y="{base_y + 25}" fill="#57606a">sustain window {_minutes(sustain_s)}</text>'
        )
    if threshold is not None:
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(threshold):.1f}" y2="{y(threshold):.1f}" '
            f'stroke="#cf222e" stroke-dasharray="4 3"/><text x="{width - right - 2}" y="{y(threshold) - 3:.1f}" '
            f'text-anchor="end" fill="#cf222e">limit {threshold:g}{u}</text>'
        )
    # the series, then the legend with full names
    legend_y = base_y + axis_h + 10
    for i, (label, pts) in enumerate(data.items()):
        colour = COLOURS[i % len(COLOURS)]
        old = label in baseline
        dash = ' stroke-dasharray="5 3"' if old else ""
        name = html.escape(label + (" (old)" if old else ""))
        for run in segments(pts, step):
            if len(run) == 1:
                (t, v) = run[0]
                parts.append(
                    f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="1.8" fill="{colour}"><title>{name}</title></circle>'
                )
                continue
            coords = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in run)
            parts.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="1.3"{dash} points="{coords}">'
                f"<title>{name}</title></polyline>"
            )
        lx = left + (i % cols) * col_w
        ly = legend_y + 14 * (i // cols)
        parts.append(
            f'<line x1="{lx}" x2="{lx + 16}" y1="{ly - 3}" y2="{ly - 3}" stroke="{colour}" stroke-width="2"{dash}/>'
            f'<text x="{lx + 20}" y="{ly}">{name}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
