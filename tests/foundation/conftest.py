"""Helpers for the foundation self-tests: run nova-gate's pytest in a subprocess."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from nova_gate import testing

ROOT = Path(__file__).resolve().parents[2]


class GateRun:
    def __init__(self, proc: subprocess.CompletedProcess[str], reports: Path) -> None:
        self.proc = proc
        self.reports = reports
        self.returncode = proc.returncode
        self.output = proc.stdout + proc.stderr

    @property
    def decision(self) -> dict:
        return json.loads((self.reports / "decision.json").read_text())


@pytest.fixture
def run_gate(tmp_path):
    """Run ``pytest <args>`` on the project's gate tests with reports in a temp dir."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> GateRun:
        reports = tmp_path / "reports"
        proc = testing.run_gate("--reports-dir", str(reports), *args, root=ROOT, timeout=timeout, env=env, options=())
        return GateRun(proc, reports)

    return run
