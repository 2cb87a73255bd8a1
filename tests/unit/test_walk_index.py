"""The walk's index page (rendered, links checked, viewed in headless Chromium) and the walk logic."""

from __future__ import annotations

import html.parser
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from nova_gate import rehearsal
from nova_gate.rehearsal import Walk
from nova_gate.sandbox import stages
from nova_gate.sandbox.stages import Stage, Step
from nova_gate.walk_index import render_index


def _phase(reports: Path, phase: str, decision: str, expected: str, items: dict[str, str]) -> dict[str, Any]:
    base = f"{phase}-v1.0.0-20260101T000000Z"
    for suffix in (".html", ".xml", ".evidence.json"):
        (reports / f"{base}{suffix}").write_text(f"{phase}{suffix}")
    fails = sum(v == "FAIL" for v in items.values())
    return {
        "phase": phase,
        "decision": decision,
        "expected": expected,
        "counts": {"PASS": len(items) - fails, "WARN": 0, "FAIL": fails, "INCONCLUSIVE": 0, "WAIVED": 0},
        "items": items,
        "reasons": {
            "CAN-3": ["test_error_rate[feed-service]: error rate of v1.0.0 5.1% > 1% sustained for 11 min"],
            "CAN-10": ["test_errors_vs_baseline[feed-service]: 5.1% vs 0.2% = 25x > 2x"],
        },
        "steps": ["kubectl apply the new version, 1 replica per service (canary 5%) (3 s)"]
        if phase == "canary_gate"
        else [],
        "step_errors": [],
        "duration_s": 12.3,
        "html": f"{base}.html",
        "junit": f"{base}.xml",
        "evidence": f"{base}.evidence.json",
    }


CANARY_ITEMS = {"CAN-1": "PASS", "CAN-3": "FAIL", "CAN-10": "FAIL"}


def bad_canary_walk(reports: Path) -> dict[str, Any]:
    reports.mkdir(parents=True, exist_ok=True)
    return {
        "name": "bad-canary",
        "title": "a bad canary, rejected and rolled back",
        "scenario": "rehearsal-bad-canary",
        "expected": "the canary gate decides ROLLBACK; after the rollback steps the rollback gate PROCEEDs",
        "as_expected": True,
        "version": "v1.0.0",
        "baseline_version": "v0.9.0",
        "environment": "sandbox",
        "started": "2026-01-01T00:00:00+00:00",
        "finished": "2026-01-01T00:04:00+00:00",
        "phases": [
            _phase(reports, "migrations", "PROCEED", "PROCEED", {"MIG-1": "PASS"}),
            _phase(
                reports, "canary_gate", "ROLLBACK", "ROLLBACK", {"CAN-1": "PASS", "CAN-3": "FAIL", "CAN-10": "FAIL"}
            ),
            _phase(reports, "rollback", "PROCEED", "PROCEED", {"RBK-1": "PASS"}),
        ],
    }


class Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs += [v for k, v in attrs if k == "href" and v]


def test_index_lists_every_phase_with_decision_counts_failing_items_and_working_links(tmp_path: Path) -> None:
    walk = bad_canary_walk(tmp_path)
    page = render_index(walk)
    assert "3 phases, ended as expected" in page
    for phase in ("Phase 2: database migrations", "Phase 4: canary 5%", "Phase 9: rollback"):
        assert phase in page
    assert page.count(">ROLLBACK<") == 1 and page.count(">PROCEED<") == 2
    assert "error rate of v1.0.0 5.1% &gt; 1% sustained for 11 min" in page  # escaped, whole reason
    assert "kubectl apply the new version" in page
    parser = Links()
    parser.feed(page)
    files = [h for h in parser.hrefs if not h.startswith("#")]
    assert len(files) == 9 and all((tmp_path / h).is_file() for h in files)
    assert all(h[1:] in page for h in parser.hrefs if h.startswith("#"))  # anchors exist


def test_index_says_so_when_a_walk_did_not_end_as_expected_and_escapes_everything() -> None:
    walk = {
        "name": "x",
        "as_expected": False,
        "phases": [
            {
                "phase": "canary_gate",
                "decision": "PROCEED",
                "expected": "ROLLBACK",
                "items": {"CAN-3": "PASS"},
                "counts": {"PASS": 1},
            },
            {"phase": "rollback", "decision": "ERROR", "expected": "PROCEED", "detail": "<script>x</script>"},
        ],
    }
    page = render_index(walk)
    assert "did NOT end as expected" in page and 'ROLLBACK <span class="err">NOT met</span>' in page
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_index_page_in_headless_chromium(tmp_path: Path) -> None:
    walk = bad_canary_walk(tmp_path)
    page = tmp_path / "walk-bad-canary.html"
    page.write_text(render_index(walk), encoding="utf-8")
    shot = tmp_path / "walk-bad-canary.png"
    proc = subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1400,900",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert proc.returncode == 0 and shot.is_file(), proc.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1400, 900)
    assert len(data) > 20_000  # a rendered page with tables and text, not a blank image
    print(f"screenshot: {shot}")


def test_bad_walk_goes_on_to_the_rollback_and_writes_its_index(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    decided = {"migrations": "PROCEED", "images": "PROCEED", "canary_gate": "PROCEED", "rollback": "PROCEED"}
    ran: list[str] = []
    monkeypatch.setattr(rehearsal, "reports_dir", lambda: tmp_path)
    monkeypatch.setattr(rehearsal, "_load_scenario", lambda name, force: ran.append(f"scenario {name}"))
    monkeypatch.setattr(
        rehearsal,
        "run_phase",
        lambda phase: {"decision": decided[phase], "counts": {"PASS": 1}, "duration_s": 1.0},
    )
    at: list[Stage] = [Stage.BASELINE]

    def advance_to(stage: Stage, report: Any = None, announce: Any = None) -> list[Step]:
        # the real plan, with steps that only say they ran
        steps = [Step(s.name, lambda name=s.name: ran.append(name)) for s in stages.plan(stage, at[-1])]
        for step in steps:
            announce(step)
            step.run()
            report(step, 0.0, None)
        at.append(stage)
        return steps

    monkeypatch.setattr(rehearsal, "advance_to", advance_to)
    w = rehearsal.bad_walk()
    # the canary gate PROCEEDs although the canary is bad: the walk is not as expected, yet rolls back
    assert rehearsal.walk(w, keep_going=False, number=2, of=2) is False
    assert [r["phase"] for r in w.results] == ["migrations", "images", "canary_gate", "rollback"]
    assert ran[0] == "scenario rehearsal-bad-canary" and any("rollback" in r for r in ran)
    out = capsys.readouterr().out
    assert "rehearsal [bad-canary] phase 3 of 4: canary_gate — Phase 4: canary 5% (expected ROLLBACK)" in out
    assert "rehearsal [bad-canary]   step: kubectl apply the new version, 1 replica per service" in out
    assert "canary_gate decided PROCEED (expected ROLLBACK)" in out
    index = json.loads(next(tmp_path.glob("walk-bad-canary-*.json")).read_text())
    assert index["as_expected"] is False and index["index_html"].endswith(".html")
    assert (tmp_path / index["index_html"]).is_file()

    decided["canary_gate"] = "ROLLBACK"
    w2 = rehearsal.bad_walk()
    w2.stages = {}
    assert rehearsal.walk(w2, keep_going=False, number=2, of=2) is True


def test_good_walk_stops_at_the_first_unexpected_decision_unless_keep_going(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(rehearsal, "reports_dir", lambda: tmp_path)
    monkeypatch.setattr(rehearsal, "_load_scenario", lambda name, force: None)
    monkeypatch.setattr(
        rehearsal,
        "run_phase",
        lambda phase: {"decision": "STOP" if phase == "predeploy" else "PROCEED", "counts": {}, "duration_s": 0.0},
    )
    w = Walk("good-release", "t", "good-release", [(p, "PROCEED") for p in rehearsal.ORDER], {}, "all PROCEED")
    assert rehearsal.walk(w, keep_going=False, number=1, of=2) is False
    assert [r["phase"] for r in w.results] == ["preflight", "predeploy"]
    w = Walk("good-release", "t", "good-release", [(p, "PROCEED") for p in rehearsal.ORDER], {}, "all PROCEED")
    assert rehearsal.walk(w, keep_going=True, number=1, of=2) is False
    assert len(w.results) == 11
