"""Run the release's own tools (cargo test, clippy, fmt, audit) with a time limit; facts only."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from nova_gate.backends.base import Source, SourceError


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    cwd: str
    exit_code: int
    seconds: float
    output_tail: str  # the last lines of stdout+stderr, for the evidence


class CommandRunner(Source):
    backend = "command"

    def __init__(
        self,
        cwd: Path | None,
        timeout_s: float,
        target_dir: Path | None = None,
        path: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.cwd = cwd
        self.timeout_s = timeout_s
        self.target_dir = target_dir
        self.path = [os.path.expanduser(p) for p in path or []]

    def run(self, argv: list[str]) -> CommandResult:
        if self.cwd is None:
            raise SourceError(self.backend, "release.backend_dir not configured in this environment")
        if not self.cwd.is_dir():
            raise SourceError(self.backend, f"{self.cwd} is not a directory")
        env = {**os.environ, "CARGO_TERM_COLOR": "never"}
        if self.target_dir is not None:
            env["CARGO_TARGET_DIR"] = str(self.target_dir)
        if self.path:
            env["PATH"] = os.pathsep.join([*self.path, env.get("PATH", "")])
        started = time.monotonic()
        with self.call(" ".join(argv)):
            try:
                proc = subprocess.run(
                    argv,
                    cwd=self.cwd,
                    capture_output=True,
                    text=True,
                    env=env,
                    timeout=self.timeout_s,
                    check=False,
                )
            except FileNotFoundError as exc:
                raise SourceError(self.backend, f"{argv[0]} is not installed", exc) from exc
            except subprocess.TimeoutExpired as exc:
                raise SourceError(self.backend, f"{' '.join(argv)} timed out after {self.timeout_s:.0f} s") from exc
        tail = "\n".join((proc.stdout + "\n" + proc.stderr).strip().splitlines()[-40:])
        return CommandResult(tuple(argv), str(self.cwd), proc.returncode, round(time.monotonic() - started, 2), tail)
