"""ClickHouse verdicts: schemas as code expects (PRE-CFG-7), healthy parts (PRE-INF-5), data (PST-9)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from nova_gate.verdict import Verdict, failed, inconclusive, passed


class _Parts(Protocol):
    table: str
    partition: str
    active_parts: int


def schemas_match(expected: Mapping[str, Mapping[str, str]], actual: Mapping[str, Mapping[str, str]]) -> Verdict:
    """PRE-CFG-7: every expected table has exactly the expected column → type map."""
    if not expected:
        return inconclusive("expectations.clickhouse_tables is empty; nothing to compare", actual, expected)
    problems = []
    for table, columns in expected.items():
        found = actual.get(table)
        if not found:
            problems.append(f"{table}: table missing")
            continue
        for name, type_ in columns.items():
            if name not in found:
                problems.append(f"{table}.{name}: column missing")
            elif found[name] != type_:
                problems.append(f"{table}.{name}: {found[name]}, expected {type_}")
        extra = [c for c in found if c not in columns]
        if extra:
            problems.append(f"{table}: unexpected column(s) {', '.join(extra)}")
    observed = {t: dict(actual.get(t, {})) for t in expected}
    if problems:
        return failed("; ".join(problems), observed, expected)
    return passed(f"{len(expected)} table schema(s) match", observed, expected)


def parts_healthy(
    detached: Sequence[Mapping[str, Any]],
    replicas: Sequence[Mapping[str, Any]] | None,
    partitions: Sequence[_Parts],
    max_parts: int,
) -> Verdict:
    """PRE-INF-5: no detached parts, no readonly replicas, active parts per partition below the limit."""
    worst = max(partitions, key=lambda p: p.active_parts, default=None)
    observed = {
        "detached_parts": list(detached),
        "readonly_replicas": [r["table"] for r in replicas or [] if r.get("is_readonly")],
        "replicated_tables": None if replicas is None else len(replicas),
        "max_parts_per_partition": None
        if worst is None
        else {"table": worst.table, "partition": worst.partition, "parts": worst.active_parts},
    }
    expected = {"detached_parts": 0, "readonly_replicas": 0, "parts_per_partition": f"< {max_parts}"}
    problems = []
    if detached:
        names = ", ".join(
            f"{d['table']}/{d['part']}{' (' + d['reason'] + ')' if d.get('reason') else ''}" for d in detached[:5]
        )
        problems.append(f"{len(detached)} detached part(s): {names}")
    for r in replicas or []:
        if r.get("is_readonly") or r.get("is_session_expired"):
            problems.append(f"replica of {r['table']} is read-only")
    over = [p for p in partitions if p.active_parts >= max_parts]
    for p in over[:5]:
        problems.append(f"{p.table} partition {p.partition} has {p.active_parts} active parts (limit {max_parts})")
    if problems:
        return failed("; ".join(problems), observed, expected)
    if not partitions:
        return inconclusive("no active parts at all in the database; nothing to judge", observed, expected)
    return passed(
        f"no detached parts, no read-only replicas, at most {worst.active_parts if worst else 0} parts per partition",
        observed,
        expected,
    )


def rows_present(table: str, count: int) -> Verdict:
    """PST-9: the table answers a count and holds rows."""
    if count <= 0:
        return failed(f"{table} is empty (0 rows)", count, "> 0 rows")
    return passed(f"{table} holds {count} rows", count, "> 0 rows")
