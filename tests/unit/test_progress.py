"""Long sandbox work shows progress: a start line, a line every interval, an end line, the log path."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from nova_gate.sandbox.base import SandboxError, progress, run_logged


def test_progress_lines_with_elapsed_time_and_log(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    log = tmp_path / "build-x.log"
    with progress("kubernetes: building kube-apiserver", log, every_s=0.05):
        time.sleep(0.3)
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"sandbox: kubernetes: building kube-apiserver: started; log {log}"
    beats = [line for line in err if ": still running, " in line]
    assert len(beats) >= 2 and all(line.endswith(f"s; log {log}") for line in beats)
    assert err[-1].startswith("sandbox: kubernetes: building kube-apiserver: done in ")


def test_a_failed_step_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(RuntimeError), progress("postgres: building sqlx-cli", every_s=10):
        raise RuntimeError("boom")
    assert "postgres: building sqlx-cli: FAILED after 0s" in capsys.readouterr().err


def test_run_logged_keeps_the_output_in_the_log_and_names_it_on_failure(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "build-y.log"
    run_logged(["sh", "-c", "echo compiling foo"], "y: build", log)
    assert "compiling foo" in log.read_text()
    with pytest.raises(SandboxError) as exc:
        run_logged(["sh", "-c", "echo 'error[E0425]: cannot find value'; exit 101"], "y: build", log)
    assert f"log {log}" in str(exc.value) and "E0425" in str(exc.value) and "exited 101" in str(exc.value)
    with pytest.raises(SandboxError, match="timed out after 1s"):
        run_logged(["sleep", "5"], "y: slow", log, timeout=1)
