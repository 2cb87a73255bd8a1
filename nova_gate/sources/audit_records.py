"""Earlier audit records (reports/*.decision.json) and whether their evidence is intact."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nova_gate.report import verify_evidence
from nova_gate.sources.base import Source, SourceError


@dataclass(frozen=True)
class AuditRecord:
    path: str
    phase: str
    version: str
    decision: str
    items: dict[str, str]
    finished: dt.datetime
    evidence_ok: bool
    evidence_detail: str


class AuditRecords(Source):
    backend = "files"

    def __init__(self, directory: Path | None) -> None:
        super().__init__()
        self.directory = directory

    def records(self, phase: str) -> list[AuditRecord]:
        """Every ``<phase>-*.decision.json`` in the directory, newest first."""
        if self.directory is None:
            raise SourceError(self.backend, "files.preflight_records not configured in this environment")
        with self.call(f"list {self.directory}"):
            if not self.directory.is_dir():
                raise SourceError(self.backend, f"{self.directory} is not a directory")
            paths = sorted(self.directory.glob(f"{phase}-*.decision.json"))
        out = []
        for path in paths:
            with self.call(f"read {path.name}"):
                try:
                    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
                except ValueError:
                    continue  # not a record of ours; judged as absent
            evidence = self.directory / str(data.get("evidence_file", ""))
            ok, detail = verify_evidence(evidence) if data.get("evidence_file") else (False, "no evidence file")
            out.append(
                AuditRecord(
                    path=str(path),
                    phase=str(data.get("phase")),
                    version=str(data.get("version")),
                    decision=str(data.get("decision")),
                    items=dict(data.get("items", {})),
                    finished=dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC),
                    evidence_ok=ok,
                    evidence_detail=detail,
                )
            )
        return sorted(out, key=lambda r: r.finished, reverse=True)
