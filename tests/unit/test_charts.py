"""Charts a reader can read: clock-time axis, gaps as gaps, breach vs spike, full names, old vs new."""

from __future__ import annotations

import datetime as dt
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

from nova_gate.charts import line_chart

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC).timestamp()
NS = "{http://www.w3.org/2000/svg}"


def series(values: list[float | None], step: float = 15, start: float = T0) -> list[list[float | None]]:
    return [[start + i * step, v] for i, v in enumerate(values)]


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # well-formed XML, or this raises


def test_round_y_axis_labels() -> None:
    root = parse(line_chart({"a": series([300.0, 420.0])}, 1000.0, "P99", " ms"))
    texts = [t.text or "" for t in root.iter(f"{NS}text")]
    assert {"0 ms", "500 ms", "1,000 ms"} <= set(texts)
    root = parse(line_chart({"a": series([0.2, 1.4])}, 1.0, "errors", "%"))
    assert {"0%", "1%", "2%"} <= {t.text for t in root.iter(f"{NS}text")}


def test_time_axis_shows_clock_times() -> None:
    root = parse(line_chart({"feed-service": series([0.2] * 61)}, 1.0, "error rate", "%"))  # 12:00-12:15
    texts = [t.text or "" for t in root.iter(f"{NS}text")]
    assert {"12:00", "12:05", "12:10", "12:15"} <= set(texts)
    assert any("UTC, 12:00–12:15 (15 min)" in t for t in texts)


def test_gaps_are_gaps_not_straight_lines() -> None:
    values: list[float | None] = [0.2] * 20 + [None] * 4 + [0.3] * 20
    hole = series([0.2] * 10) + series([0.2] * 10, start=T0 + 600)  # 7.5 min without samples
    root = parse(line_chart({"a": series(values), "b": hole}, None, "t"))
    lines = {p.find(f"{NS}title").text: 0 for p in root.iter(f"{NS}polyline")}  # type: ignore[union-attr]
    for p in root.iter(f"{NS}polyline"):
        lines[p.find(f"{NS}title").text] += 1  # type: ignore[index,union-attr]
    assert lines == {"a": 2, "b": 2}


def test_sustained_breach_is_marked_and_a_short_spike_is_told_apart() -> None:
    # 15 s samples: a 2-min spike to 3% at 12:02, then 6 min at 1.6% from 12:08
    values = [0.2] * 8 + [3.0] * 8 + [0.2] * 16 + [1.6] * 24 + [0.2] * 4
    svg = line_chart({"feed-service": series(values)}, 1.0, "error rate", "%", sustain_s=300)
    root = parse(svg)
    rects = [r.find(f"{NS}title").text or "" for r in root.iter(f"{NS}rect")]  # type: ignore[union-attr]
    assert any(r.startswith("spike 2 min (shorter than the 5 min sustain window)") for r in rects), rects
    assert any(r.startswith("breach 6 min (sustain window 5 min)") for r in rects), rects
    assert "sustain window 5 min" in svg and "limit 1%" in svg


def test_full_service_names_in_the_legend_and_old_vs_new_dashed() -> None:
    long = "notification-dispatch-service"
    svg = line_chart(
        {f"{long} v1.0.0": series([40.0] * 10), f"{long} v0.9.0": series([35.0] * 10)},
        None,
        "P99: v1.0.0 vs v0.9.0",
        " ms",
    )
    root = parse(svg)
    texts = [t.text or "" for t in root.iter(f"{NS}text")]
    assert f"{long} v1.0.0" in texts and f"{long} v0.9.0 (old)" in texts
    dashed = [p for p in root.iter(f"{NS}polyline") if p.get("stroke-dasharray")]
    assert len(dashed) == 1 and dashed[0].find(f"{NS}title").text == f"{long} v0.9.0 (old)"  # type: ignore[union-attr]


def test_eleven_services_get_a_legend_row_each_few_and_the_old_call_sites_still_work() -> None:
    names = [f"service-number-{i:02d}" for i in range(11)]
    svg = line_chart({n: series([1.0, 2.0, None, 3.0]) for n in names}, 2.5, "cpu", "%")  # positional, old way
    root = parse(svg)
    assert all(n in [t.text for t in root.iter(f"{NS}text")] for n in names)
    assert int(root.get("height", "0")) > 180  # grew for the legend instead of truncating names
    assert line_chart({"a": []}, 1.0, "error rate") == "<p><i>error rate: no data</i></p>"
    assert line_chart({"a": [[T0, None]]}, None, "x").startswith("<p>")


OLD = series([35.0] * 60)


def test_charts_render_in_chromium(tmp_path: Path) -> None:
    values = [0.2] * 8 + [3.0] * 8 + [0.2] * 16 + [1.6] * 24 + [0.2] * 4
    gap: list[float | None] = [0.4] * 20 + [None] * 8 + [0.5] * 32
    charts = [
        line_chart(
            {"feed-service v1.0.0": series(values), "notification-dispatch-service v1.0.0": series(gap)},
            1.0,
            "error rate v1.0.0, last 15 min",
            "%",
            sustain_s=300,
        ),
        line_chart(
            {
                "feed-service v1.0.0": series([40 + i % 7 for i in range(60)]),
                "feed-service v0.9.0": series([35.0] * 60),
            },
            None,
            "P99: v1.0.0 vs v0.9.0",
            " ms",
        ),
    ]
    page = tmp_path / "charts.html"
    page.write_text("<!DOCTYPE html><html><body>" + "<br>".join(charts) + "</body></html>")
    shot = tmp_path / "charts.png"
    proc = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'p'}",
         "--window-size=700,520", f"--screenshot={shot}", page.as_uri()],
        capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    assert proc.returncode == 0 and shot.stat().st_size > 10_000, proc.stderr[-1000:]
