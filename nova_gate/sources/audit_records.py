"""Earlier audit records (reports/*.decision.json) and whether their evidence is intact."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nova_gate.backends.base import Source, SourceError
from nova_gate.report import verify_evidence


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
            name = str(data.get("evidence_file", ""))
            evidence = self.directory / name
            if not name or "/" in name or name.startswith("."):
                ok, detail = False, "no evidence file"
            else:
                ok, detail = verify_evidence(evidence)
            recorded = data
            if ok:
                ok, detail, recorded = _trusted(path, evidence, detail)
            decision = str(recorded.get("decision"))
            if recorded.get("partial"):
                decision = "PARTIAL"
            out.append(
                AuditRecord(
                    path=str(path),
                    phase=str(recorded.get("phase")),
                    version=str(recorded.get("version")),
                    decision=decision,
                    items=dict(recorded.get("items") or {}),
                    finished=dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC),
                    evidence_ok=ok,
                    evidence_detail=detail,
                )
            )
        return sorted(out, key=lambda r: r.finished, reverse=True)


def _trusted(decision_path: Path, evidence: Path, detail: str) -> tuple[bool, str, dict[str, Any]]:
    """The decision as the (hash-verified) evidence records it, and, when a signing key is
    configured, only if a valid signed manifest covers both files (nova_gate.signing)."""
    from nova_gate import signing

    try:
        recorded = json.loads(evidence.read_text(encoding="utf-8")).get("decision")
    except (OSError, ValueError, AttributeError):
        recorded = None
    if not isinstance(recorded, dict):
        return False, f"{evidence.name}: holds no decision", {}
    consistent, why = signing.decision_matches_evidence(evidence)
    if not consistent:
        return False, why, recorded
    if not signing.signing_configured():
        return True, detail, recorded
    manifest = evidence.with_name(evidence.name.removesuffix(".evidence.json") + signing.MANIFEST_SUFFIX)
    if not manifest.is_file():
        return False, f"{evidence.name}: not signed (no {manifest.name}), and a signing key is configured", recorded
    good, lines = signing.verify_manifest(manifest)
    try:
        files = json.loads(manifest.read_text(encoding="utf-8")).get("files", {})
    except (OSError, ValueError, AttributeError):
        files = {}
    if not good or evidence.name not in files or decision_path.name not in files:
        failing = [line.strip() for line in lines if "FAIL" in line] or ["the manifest does not cover the record"]
        return False, f"{manifest.name}: {failing[0]}", recorded
    return True, f"{detail}; {lines[0]}", recorded
