"""One gate run's session: what was collected, the tests' records, the decision once made.

The plugin keeps one :class:`RunState` in ``config.stash`` (never in a module global), fills it from
pytest's hooks and asks it for the decision (:meth:`RunState.decide`, which calls the pure
``nova_gate.decision.decide``); the record writers (``nova_gate.report``) render it. No pytest here.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from nova_gate import decision as deciding
from nova_gate import redact as redaction
from nova_gate.catalog import Catalog
from nova_gate.config import LoadedEnvironment
from nova_gate.policy import Waiver
from nova_gate.verdict import Label, failed


class Source(Protocol):
    """A backend source as the session sees it (``nova_gate.backends.base.Source``): counted, closed."""

    backend: str

    @property
    def calls(self) -> int: ...

    def close(self) -> None: ...


@dataclass
class TestRecord:
    """One test's verdict, evidence and backend calls, as it reached the controller."""

    __test__ = False  # not a pytest test class

    nodeid: str
    items: list[str]
    label: Label
    reason: str
    verdict: dict[str, Any] | None
    evidence: list[dict[str, Any]]
    calls: dict[str, int]
    duration: float
    waiver: dict[str, Any] | None = None
    worker: str | None = None


@dataclass
class RunState:
    loaded: LoadedEnvironment
    catalog: Catalog
    waivers: list[Waiver]
    reports_dir: Path
    started: dt.datetime
    secrets: list[str]
    gate_mode: bool = False
    records: dict[str, TestRecord] = field(default_factory=dict)
    collected: dict[str, list[str]] = field(default_factory=dict)  # nodeid -> items
    sources: list[Source] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    decision: deciding.Decision | None = None
    #: the decision as written to decision.json (the decision plus the run's context)
    document: dict[str, Any] | None = None
    #: phases named in -m: a test that also carries an item of another phase does not decide for it
    selected_phases: list[str] = field(default_factory=list)
    run_id: str = field(default_factory=lambda: secrets.token_hex(4))
    #: the audit record is written by this process (the controller, never an xdist worker)
    armed: bool = False
    decision_file: Path | None = None
    #: xdist: node ids the workers collected, and whether any worker reported its collection
    xdist_ids: set[str] = field(default_factory=set)
    xdist_reported: bool = False
    #: failed reports without a verdict: a host repository's own tests, or a gate test whose process
    #: died (xdist reports "worker crashed" for it); node id -> the report's one-line reason
    failed_outside: dict[str, str] = field(default_factory=dict)
    #: tests per item before any deselection, and why the run is narrower than its phases (partial)
    tests_per_item: dict[str, int] = field(default_factory=dict)
    narrowed_by: list[str] = field(default_factory=list)

    def redact(self, text: str) -> str:
        return redaction.redact_text(text, self.secrets)

    def redact_data(self, value: Any) -> Any:
        return redaction.redact(value, self.secrets)

    def add(self, record: TestRecord) -> None:
        """A test's record arrived (from this process or an xdist worker)."""
        self.records[record.nodeid] = record
        self.gate_mode = True
        self.collected.setdefault(record.nodeid, record.items)

    @property
    def outside_failures(self) -> set[str]:
        """Failed tests that carry no checklist item (a host repository's own tests)."""
        return {n for n in self.failed_outside if n not in self.collected}

    def scope(self) -> deciding.Scope:
        lost = bool(self.xdist_ids and not self.xdist_reported)
        return deciding.Scope(
            phases=tuple(self.selected_phases),
            tests_per_item=dict(self.tests_per_item),
            narrowed_by=tuple(self.narrowed_by),
            incomplete="the xdist workers ended without reporting what they collected" if lost else None,
        )

    def decide(self, now: dt.datetime | None = None) -> deciding.Decision:
        """Decide over every collected test; a gate test whose process died is a FAIL."""
        for nodeid, why in self.failed_outside.items():
            items = self.collected.get(nodeid)
            if items and nodeid not in self.records:
                verdict = failed(f"the test's process died: {why}")
                self.records[nodeid] = TestRecord(
                    nodeid, items, verdict.label, verdict.reason, verdict.as_dict(), [], {}, 0.0
                )
        records = []
        for nodeid, items in self.collected.items():
            rec = self.records.get(nodeid)
            records.append(deciding.Record(nodeid, tuple(items), rec.label if rec else None, rec.reason if rec else ""))
        self.decision = deciding.decide(
            records, self.catalog, self.waivers, self.scope(), self.loaded.env.policy, now=now
        )
        for nodeid, waiver in self.decision.waived_tests.items():
            if nodeid in self.records:
                self.records[nodeid].waiver = waiver
        return self.decision
