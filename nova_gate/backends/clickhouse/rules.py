"""ClickHouse verdicts: schemas as code expects (PRE-CFG-7), healthy parts (PRE-INF-5), data (PST-9)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nova_gate.backends.clickhouse.facts import PartitionParts
from nova_gate.verdict import Verdict, failed, inconclusive, passed


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


#: The checklist is silent on replica lag; the limits chosen (stated in the evidence too):
#: ``absolute_delay`` below 300 s — ClickHouse's own ``max_replica_delay_for_distributed_queries``
#: default, beyond which distributed queries stop reading the replica as stale — and a replication
#: queue below 100 entries (the ClickHouse mixin's ``ClickHouseReplicationQueueBackingUp`` fires at > 99).
REPLICA_MAX_DELAY_S = 300
REPLICA_MAX_QUEUE = 100


def parts_healthy(
    detached: Sequence[Mapping[str, Any]],
    replicas: Sequence[Mapping[str, Any]] | None,
    partitions: Sequence[PartitionParts],
    max_parts: int,
    max_delay_s: int = REPLICA_MAX_DELAY_S,
    max_queue: int = REPLICA_MAX_QUEUE,
) -> Verdict:
    """PRE-INF-5: no detached parts, no readonly or lagging replicas, active parts per partition below
    the limit. A replica lags when ``absolute_delay >= max_delay_s`` (default 300 s, ClickHouse's
    ``max_replica_delay_for_distributed_queries``) or ``queue_size >= max_queue`` (default 100)."""
    worst = max(partitions, key=lambda p: p.active_parts, default=None)
    observed = {
        "detached_parts": list(detached),
        "readonly_replicas": [r["table"] for r in replicas or [] if r.get("is_readonly")],
        "replicated_tables": None if replicas is None else len(replicas),
        "max_parts_per_partition": None
        if worst is None
        else {"table": worst.table, "partition": worst.partition, "parts": worst.active_parts},
    }
    observed["lagging_replicas"] = [
        {"table": r["table"], "absolute_delay_s": r.get("absolute_delay"), "queue_size": r.get("queue_size")}
        for r in replicas or []
        if _lagging(r, max_delay_s, max_queue)
    ]
    expected = {
        "detached_parts": 0,
        "readonly_replicas": 0,
        "parts_per_partition": f"< {max_parts}",
        "replica_absolute_delay_s": f"< {max_delay_s} (chosen: ClickHouse's max_replica_delay_for_distributed_queries)",
        "replica_queue_size": f"< {max_queue} (chosen: ClickHouse mixin's queue backing-up alert)",
    }
    problems = []
    if detached:
        names = ", ".join(
            f"{d['table']}/{d['part']}{' (' + d['reason'] + ')' if d.get('reason') else ''}" for d in detached[:5]
        )
        problems.append(f"{len(detached)} detached part(s): {names}")
    for r in replicas or []:
        if r.get("is_readonly") or r.get("is_session_expired"):
            problems.append(f"replica of {r['table']} is read-only")
        elif _lagging(r, max_delay_s, max_queue):
            problems.append(
                f"replica of {r['table']} lags: {r.get('absolute_delay')} s behind (limit < {max_delay_s} s), "
                f"{r.get('queue_size')} queued (limit < {max_queue})"
            )
    over = [p for p in partitions if p.active_parts >= max_parts]
    for p in over[:5]:
        problems.append(f"{p.table} partition {p.partition} has {p.active_parts} active parts (limit {max_parts})")
    if problems:
        return failed("; ".join(problems), observed, expected)
    if not partitions:
        return inconclusive("no active parts at all in the database; nothing to judge", observed, expected)
    return passed(
        f"no detached parts, no read-only or lagging replicas, "
        f"at most {worst.active_parts if worst else 0} parts per partition",
        observed,
        expected,
    )


def _lagging(r: Mapping[str, Any], max_delay_s: int, max_queue: int) -> bool:
    return int(r.get("absolute_delay") or 0) >= max_delay_s or int(r.get("queue_size") or 0) >= max_queue


def rows_present(table: str, count: int) -> Verdict:
    """PST-9: the table answers a count and holds rows."""
    if count <= 0:
        return failed(f"{table} is empty (0 rows)", count, "> 0 rows")
    return passed(f"{table} holds {count} rows", count, "> 0 rows")
