"""The checklist catalog: every item, its phase, section, severity and how it is verified."""

from __future__ import annotations

import csv
import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

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


def load_catalog(path: Path | None = None) -> Catalog:
    """Load the project's catalog (read once per process) or the one at ``path``."""
    if path is not None:
        return parse_catalog(path.read_text(encoding="utf-8"))
    return _packaged_catalog()


@functools.cache
def _packaged_catalog() -> Catalog:
    return parse_catalog(resources.files("nova_gate").joinpath("data/items.tsv").read_text(encoding="utf-8"))


class HostItemError(Exception):
    """A host repository's item is bad input, rendered as ``pytest_nova_gate_items:ID:key: reason``."""

    def __init__(self, where: str, key: str, reason: str) -> None:
        super().__init__(f"{where}:{key}: {reason}")


def with_host_items(catalog: Catalog, declared: Iterable[Any]) -> Catalog:
    """The checklist plus a host repository's items (``pytest_nova_gate_items``: Items or mappings).

    A duplicate id, an unknown phase, severity, verification or backend is a HostItemError
    (``pytest_nova_gate_items:ID:key: reason``, exit 2).
    """
    extra = [raw if isinstance(raw, Item) else _item_from_mapping(raw) for raw in declared]
    if not extra:
        return catalog
    seen = set(catalog.ids)
    for item in extra:
        where = f"pytest_nova_gate_items:{item.id}"
        if item.id in seen:
            raise HostItemError(where, "id", "already a checklist item")
        if item.phase not in PHASES:
            raise HostItemError(where, "phase", f"unknown phase {item.phase!r}; phases: {', '.join(PHASES)}")
        if item.severity not in SEVERITIES:
            raise HostItemError(where, "severity", f"must be one of {', '.join(SEVERITIES)}")
        if item.verification not in VERIFICATIONS:
            raise HostItemError(where, "verification", f"must be one of {', '.join(VERIFICATIONS)}")
        unknown = sorted(set(item.backends) - set(BACKENDS))
        if unknown:
            raise HostItemError(where, "backends", f"unknown backends {unknown}")
        seen.add(item.id)
    return Catalog([*catalog, *extra])


def _item_from_mapping(raw: Any) -> Item:
    if not isinstance(raw, dict) or not all(
        isinstance(raw.get(k), str) and raw.get(k) for k in ("id", "phase", "text")
    ):
        raise HostItemError("pytest_nova_gate_items", "<item>", f"needs id, phase and text: {raw!r}"[:200])
    unknown = set(raw) - {"id", "phase", "text", "severity", "section", "verification", "backends", "how"}
    if unknown:
        raise HostItemError(f"pytest_nova_gate_items:{raw['id']}", sorted(unknown)[0], "unknown key")
    return Item(
        id=raw["id"],
        phase=raw["phase"],
        section=str(raw.get("section", "")),
        severity=str(raw.get("severity", "block")),
        verification=str(raw.get("verification", "probe")),
        backends=tuple(raw.get("backends", ())),
        automated=True,
        how=str(raw.get("how", "host repository check")),
        text=raw["text"],
    )
