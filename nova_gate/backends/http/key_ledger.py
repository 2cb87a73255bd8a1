"""The JWKS key history for PRE-CFG-3's rotation overlap: when each signing key was last seen.

A small JSON file (``jwks-keys.json``) next to the audit records (``files.preflight_records``), kept
by the gate itself: a passing PRE-CFG-3 records the kids it saw, so that the next run can tell a
key withdrawn before its tokens expired. Only key ids and times are stored, never key material.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable
from pathlib import Path

from nova_gate.backends.base import Source, SourceError

LEDGER_FILE = "jwks-keys.json"


class KeyLedger(Source):
    backend = "files"

    def __init__(self, directory: Path | None) -> None:
        super().__init__()
        self.path = None if directory is None else Path(directory) / LEDGER_FILE

    def last_seen(self) -> dict[str, dt.datetime] | None:
        """kid -> last time a passing check saw it; None when no directory is configured."""
        if self.path is None:
            return None
        with self.call(f"read {self.path.name}"):
            try:
                raw = json.loads(self.path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                return {}
            except (ValueError, OSError) as exc:
                raise SourceError(self.backend, f"read {self.path}", str(exc)) from None
        try:
            return {str(k): dt.datetime.fromisoformat(str(v)) for k, v in (raw.get("last_seen") or {}).items()}
        except (AttributeError, ValueError) as exc:
            raise SourceError(self.backend, f"read {self.path}", f"malformed: {exc}") from None

    def record(self, kids: Iterable[str], now: dt.datetime, keep_s: float) -> None:
        """Mark ``kids`` seen at ``now``; forget keys not seen for ``keep_s``."""
        if self.path is None:
            return
        seen = self.last_seen() or {}
        seen.update(dict.fromkeys(kids, now))
        seen = {k: t for k, t in seen.items() if (now - t).total_seconds() < keep_s}
        with self.call(f"write {self.path.name}"):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"last_seen": {k: t.isoformat() for k, t in sorted(seen.items())}}, indent=1))
            os.replace(tmp, self.path)
