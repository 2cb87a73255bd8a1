"""The checklist catalog: every item, its phase, section, severity and how it is verified."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from nova_gate.backends import MARKERS

PHASES: tuple[str, ...] = (
    "preflight",
    "predeploy",
    "migrations",
    "images",
    "canary_gate",
    "scale_gate",
    "rollout",
    "post_deploy",
    "stability_gate",
    "rollback",
    "post_24h",
)
PHASE_TITLES: dict[str, str] = {
    "preflight": "Pre-deployment (T-24h)",
    "predeploy": "Phase 1: pre-deployment verification",
    "migrations": "Phase 2: database migrations",
    "images": "Phase 3: images",
    "canary_gate": "Phase 4: canary 5%",
    "scale_gate": "Phase 5: 50% traffic",
    "rollout": "Phase 6: full rollout",
    "post_deploy": "Phase 7: post-deployment verification",
    "stability_gate": "Phase 8: 2-hour stability",
    "rollback": "Phase 9: rollback",
    "post_24h": "Post-deployment (T+24h)",
}
# The checklist's decision tree: failing before any change is made means STOP; after the
# migrations have started, a failure means ROLLBACK.
STOP_PHASES = frozenset({"preflight", "predeploy"})
SECTIONS: dict[str, str] = {
    "Code Quality": "code_quality",
    "Database": "database",
    "Configuration": "configuration",
    "Infrastructure": "infrastructure",
    "Monitoring": "monitoring",
    "Documentation": "documentation",
}
#: the backend markers, from the backend registry (nova_gate/backends/__init__.py)
BACKENDS: tuple[str, ...] = MARKERS
SEVERITIES = ("block", "warn")
VERIFICATIONS = ("probe", "command", "files", "attestation")


@dataclass(frozen=True)
class Item:
    """One checklist item."""

    id: str
    phase: str
    section: str
    severity: str
    verification: str
    backends: tuple[str, ...]
    automated: bool
    how: str
    text: str

    @property
    def section_marker(self) -> str | None:
        return SECTIONS.get(self.section)

    @property
    def markers(self) -> tuple[str, ...]:
        """Every marker a test of this item carries: phase, section (preflight) and backends."""
        names = [self.phase, *self.backends]
        if self.section_marker:
            names.append(self.section_marker)
        return tuple(names)

    @property
    def failure_decision(self) -> str:
        return "STOP" if self.phase in STOP_PHASES else "ROLLBACK"


class Catalog:
    """All checklist items, in checklist order."""

    def __init__(self, items: list[Item]) -> None:
        self._items = {item.id: item for item in items}

    def __iter__(self) -> Iterator[Item]:
        return iter(self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._items

    def __getitem__(self, item_id: str) -> Item:
        return self._items[item_id]

    def get(self, item_id: str) -> Item | None:
        return self._items.get(item_id)

    def in_phase(self, phase: str) -> list[Item]:
        return [item for item in self if item.phase == phase]

    @property
    def ids(self) -> list[str]:
        return list(self._items)


def _rows(text: str) -> Iterator[dict[str, str]]:
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    yield from csv.DictReader(lines, delimiter="\t")


def parse_catalog(text: str) -> Catalog:
    """Parse the catalog TSV; raise ValueError naming the row on a bad value."""
    items = []
    for row in _rows(text):
        where = f"catalog item {row.get('id')!r}"
        if row["phase"] not in PHASES:
            raise ValueError(f"{where}: unknown phase {row['phase']!r}")
        if row["severity"] not in SEVERITIES:
            raise ValueError(f"{where}: unknown severity {row['severity']!r}")
        if row["verification"] not in VERIFICATIONS:
            raise ValueError(f"{where}: unknown verification {row['verification']!r}")
        backends = tuple(b for b in row["backends"].split(",") if b and b != "-")
        unknown = set(backends) - set(BACKENDS)
        if unknown:
            raise ValueError(f"{where}: unknown backends {sorted(unknown)}")
        items.append(
            Item(
                id=row["id"],
                phase=row["phase"],
                section=row["section"],
                severity=row["severity"],
                verification=row["verification"],
                backends=backends,
                automated=row["automated"] == "yes",
                how=row["how"],
                text=row["text"],
            )
        )
    return Catalog(items)


_CATALOG: Catalog | None = None


def load_catalog(path: Path | None = None) -> Catalog:
    """Load the project's catalog (cached) or the one at ``path``."""
    global _CATALOG
    if path is not None:
        return parse_catalog(path.read_text(encoding="utf-8"))
    if _CATALOG is None:
        text = resources.files("nova_gate").joinpath("data/items.tsv").read_text(encoding="utf-8")
        _CATALOG = parse_catalog(text)
    return _CATALOG
