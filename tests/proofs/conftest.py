"""Pass/fail proofs on the real sandbox: run the gate in a subprocess and read its decision."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from nova_gate.testing import run_gate, sandbox_document

ROOT = Path(__file__).resolve().parents[2]


class GateRun:
    def __init__(self, proc: subprocess.CompletedProcess[str], reports: Path) -> None:
        self.returncode = proc.returncode
        self.output = proc.stdout + proc.stderr
        self.reports = reports

    @property
    def decision(self) -> dict[str, Any]:
        path = self.reports / "decision.json"
        assert path.exists(), f"no decision written:\n{self.output[-3000:]}"
        return json.loads(path.read_text())

    def labels(self) -> dict[str, str]:
        return self.decision["items"]

    def explain(self) -> str:
        d = self.decision
        return json.dumps({"items": d["items"], "reasons": d["reasons"]}, indent=1)[:4000]


@pytest.fixture
def gate_run(tmp_path):
    """Run the gate for some item ids (``--item``) with its reports in a temp dir."""
    counter = iter(range(1000))

    def run(items: list[str], *args: str, env_file: Path | None = None, timeout: float = 300) -> GateRun:
        reports = tmp_path / f"reports-{next(counter)}"
        proc = run_gate(*args, root=ROOT, env_file=env_file, reports=reports, items=items, timeout=timeout)
        return GateRun(proc, reports)

    return run


@pytest.fixture
def env_file(tmp_path):
    """Write a copy of the sandbox environment with some keys changed; return its path."""

    def make(changes: dict[str, Any]) -> Path:
        doc = sandbox_document(ROOT)  # relative paths made absolute: they are relative to the file's directory
        for dotted, value in changes.items():
            node = doc
            keys = dotted.split(".")
            for key in keys[:-1]:
                node = node.setdefault(key, {})
            node[keys[-1]] = value
        path = tmp_path / "env.yaml"
        path.write_text(yaml.safe_dump(doc))
        return path

    return make
