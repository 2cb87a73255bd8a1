"""Tiny inline SVG line charts for the HTML report (no JavaScript, no external assets)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

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


def line_chart(
    series: Mapping[str, Sequence[Sequence[float | None]]],
    threshold: float | None = None,
    title: str = "",
    unit: str = "",
    width: int = 640,
    height: int = 180,
) -> str:
    """Series of ``[ts, value]`` points against an optional threshold line, as an SVG string."""
    points = [(float(t or 0), float(v)) for pts in series.values() for t, v in pts if v is not None]

    if not points:
        return f"<p><i>{html.escape(title)}: no data</i></p>"
    t0, t1 = min(p[0] for p in points), max(p[0] for p in points)
    values = [p[1] for p in points] + ([threshold] if threshold is not None else [])
    v0, v1 = min(0.0, *values), max(values) * 1.1 or 1.0
    pad = 36

    def x(t: float) -> float:
        return pad + (t - t0) / ((t1 - t0) or 1) * (width - pad - 8)

    def y(v: float) -> float:
        return height - 18 - (v - v0) / ((v1 - v0) or 1) * (height - 34)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'style="font:10px sans-serif;background:#fff;border:1px solid #ddd">',
        f'<text x="{pad}" y="11">{html.escape(title)}</text>',
        f'<text x="2" y="{y(v1 / 1.1) + 3:.0f}">{v1 / 1.1:.3g}{html.escape(unit)}</text>',
        f'<text x="2" y="{y(v0):.0f}">{v0:.3g}</text>',
    ]
    if threshold is not None:
        parts.append(
            f'<line x1="{pad}" x2="{width - 8}" y1="{y(threshold):.1f}" y2="{y(threshold):.1f}" '
            f'stroke="#cf222e" stroke-dasharray="4 3"/><text x="{width - 120}" y="{y(threshold) - 3:.0f}" '
            f'fill="#cf222e">limit {threshold:g}{html.escape(unit)}</text>'
        )
    for i, (label, pts) in enumerate(series.items()):
        coords = " ".join(f"{x(float(t or 0)):.1f},{y(float(v)):.1f}" for t, v in pts if v is not None)

        colour = COLOURS[i % len(COLOURS)]
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.2" points="{coords}">'
            f"<title>{html.escape(label)}</title></polyline>"
        )
        parts.append(
            f'<text x="{pad + 90 * (i % 6)}" y="{height - 3 - 10 * (i // 6)}" fill="{colour}">'
            f"{html.escape(label[:16])}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
