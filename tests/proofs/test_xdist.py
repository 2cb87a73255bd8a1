"""pytest-xdist on real phases: ``-n 2`` gives the serial run's decision and per-item verdicts, and
the controller writes the one record (every test's evidence, JUnit with every verdict)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _gate(tmp_path: Path, name: str, selection: str, *args: str) -> tuple[int, dict[str, Any], dict[str, Any], str]:
    reports = tmp_path / name
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", selection,
         f"--reports-dir={reports}", f"--decision-file={reports}/this-run.json", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert (reports / "this-run.json").exists(), out[-3000:]
    decision = json.loads((reports / "this-run.json").read_text())
    evidence = json.loads((reports / decision["evidence_file"]).read_text())
    return proc.returncode, decision, evidence, out


@pytest.mark.parametrize("selection", ["preflight and (database or configuration or infrastructure)", "images"])
def test_two_workers_decide_like_one(tmp_path: Path, selection: str) -> None:
    rc1, serial, ev1, out1 = _gate(tmp_path, "serial", selection)
    rc2, parallel, ev2, out2 = _gate(tmp_path, "xdist", selection, "-n", "2")
    assert rc1 == rc2, (out1[-2000:], out2[-2000:])
    for key in ("decision", "items", "counts", "phases"):
        assert serial[key] == parallel[key], (key, serial[key], parallel[key])
    assert len(ev1["tests"]) == len(ev2["tests"]) > 0
    assert {t["nodeid"] for t in ev1["tests"]} == {t["nodeid"] for t in ev2["tests"]}
    assert {t["worker"] for t in ev2["tests"]} == {"gw0", "gw1"}  # both workers judged, one record
    assert all(t["evidence"] or t["verdict"] for t in ev2["tests"])
