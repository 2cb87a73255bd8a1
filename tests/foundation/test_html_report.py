"""The HTML audit record opens in headless Chromium and shows metadata, decision and evidence."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:  # scripts/setup.sh installs it; a missing browser must not pass silently
        pytest.fail("chromium is not installed (scripts/setup.sh installs Debian's chromium)")
    return path


def test_report_renders_in_headless_chromium(run_gate, tmp_path):
    run = run_gate("--item=PRE-DOC-3", "--item=PRE-DOC-1", "--release-version=v9.9.9", "--operator=release-bot")
    html = next(run.reports.glob("*.html"))
    common = [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(
        [*common, "--virtual-time-budget=5000", "--dump-dom", html.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    for expected in (
        "Decision: STOP",
        "release-bot",
        "Config sha256",
        "Release version",
        "v9.9.9",
        "PRE-DOC-3",
        "no release notes for v9.9.9",
        "Backend calls",
        "Evidence",
    ):
        assert expected in dom, f"{expected!r} not in the rendered report"
    shot = tmp_path / "report.png"
    subprocess.run(
        [*common, "--window-size=1400,1800", f"--screenshot={shot}", html.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.exists() and shot.stat().st_size > 10_000
    keep = Path("/tmp/nova-gate-report.png")
    shutil.copy(shot, keep)
