"""Pass/fail proofs on the real sandbox: run the gate in a subprocess and read its decision."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

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
        argv = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--reports-dir={reports}",
            *[f"--item={i}" for i in items],
            *args,
        ]
        if env_file is not None:
            argv.append(f"--env={env_file}")
        proc = subprocess.run(
            argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env={**os.environ}, check=False
        )
        return GateRun(proc, reports)

    return run


@pytest.fixture
def env_file(tmp_path):
    """Write a copy of the sandbox environment with some keys changed; return its path."""

    def make(changes: dict[str, Any]) -> Path:
        doc = yaml.safe_load((ROOT / "environments" / "sandbox.yaml").read_text())
        for dotted, value in changes.items():
            node = doc
            keys = dotted.split(".")
            for key in keys[:-1]:
                node = node.setdefault(key, {})
            node[keys[-1]] = value

        # keep relative paths valid: they are relative to the environment file's directory
        def absolute(node: Any) -> Any:
            if isinstance(node, dict):
                return {k: absolute(v) for k, v in node.items()}
            if isinstance(node, list):
                return [absolute(v) for v in node]
            if isinstance(node, str) and node.startswith("../"):
                return str((ROOT / "environments" / node).resolve())
            return node

        doc = absolute(doc)

        path = tmp_path / "env.yaml"
        path.write_text(yaml.safe_dump(doc))
        return path

    return make
