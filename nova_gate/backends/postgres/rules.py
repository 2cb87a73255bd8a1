"""PostgreSQL verdicts: replicas in sync, no long queries, fresh backup, connection headroom."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from nova_gate.backends.postgres.facts import ReplicaFacts
from nova_gate.verdict import Verdict, failed, inconclusive, passed

# A replica whose replay position is within this many bytes of the primary is caught up, whatever
# the time-based lag says (``now() - pg_last_xact_replay_timestamp()`` grows on an idle primary).
CAUGHT_UP_BYTES = 0


def replicas_in_sync(replicas: Sequence[ReplicaFacts], expected: int, max_lag_s: float) -> Verdict:
    """PD-4: every configured replica streams, is not paused, and its replay lag is *below* ``max_lag_s``.

    The checklist says "lag < 1 second": a lag of exactly the limit fails. A replica whose replay
    position equals the primary's (0 bytes behind) is caught up whatever its time lag says (the
    time lag grows on an idle primary); one whose byte lag is unknown (no replay position) is not.
    """
    if expected == 0:
        return inconclusive("no read replicas configured; replica lag cannot be judged")
    observed = [
        {
            "name": r.name,
            "reachable": r.reachable,
            "streaming": r.streaming,
            "paused": r.replay_paused,
            "lag_bytes": r.lag_bytes,
            "lag_s": r.lag_s,
        }
        for r in replicas
    ]
    problems = []
    for r in replicas:
        if not r.reachable:
            problems.append(f"{r.name} unreachable ({r.error})")
        elif not r.streaming:
            problems.append(f"{r.name} not streaming from the primary")
        elif r.replay_paused:
            problems.append(f"{r.name} has WAL replay paused ({r.lag_bytes} bytes behind)")
        elif r.lag_bytes is None:
            problems.append(f"{r.name} byte lag unknown (no WAL replay position): not known to be caught up")
        elif r.lag_bytes > CAUGHT_UP_BYTES and (r.lag_s is None or r.lag_s >= max_lag_s):
            lag = f"{r.lag_s:.2f} s" if r.lag_s is not None else "unknown time"
            problems.append(f"{r.name} behind by {r.lag_bytes} bytes ({lag}, limit < {max_lag_s} s)")
    if len(replicas) < expected:
        problems.append(f"{expected - len(replicas)} configured replica(s) missing")
    expected_text = f"{expected} replicas streaming, replay lag < {max_lag_s} s"
    choice = "0 bytes behind the primary counts as caught up whatever the time lag (idle primary); unknown bytes do not"
    if problems:
        return failed("; ".join(problems), observed=observed, expected=expected_text, choice=choice)
    return passed(
        f"{len(replicas)} replica(s) streaming and caught up", observed=observed, expected=expected_text, choice=choice
    )


def no_long_queries(queries: Sequence[Any], limit_s: float) -> Verdict:
    """PD-5: no client query has run longer than ``limit_s`` (WAL senders, workers excluded).

    The checklist says only "no active long-running queries": the limit is a choice
    (``thresholds.long_query_s``, default 300 s), stated in the evidence.
    """
    choice = f"long-running means over {limit_s:.0f} s (thresholds.long_query_s; the checklist gives no number)"
    observed = [{"pid": q.pid, "user": q.user, "seconds": round(q.seconds, 1), "query": q.query} for q in queries]
    if queries:
        worst = max(queries, key=lambda q: q.seconds)
        return failed(
            f"{len(queries)} client quer{'y' if len(queries) == 1 else 'ies'} running over "
            f"{limit_s:.0f} s (longest {worst.seconds:.0f} s, pid {worst.pid}: {worst.query[:60]})",
            observed=observed,
            expected=f"none over {limit_s:.0f} s",
            choice=choice,
        )
    return passed(
        f"no client query over {limit_s:.0f} s", observed=[], expected=f"none over {limit_s:.0f} s", choice=choice
    )


def backup_fresh(last_success: dt.datetime | None, source: str, max_age: dt.timedelta, now: dt.datetime) -> Verdict:
    """PRE-DB-4: the newest successful backup is younger than ``max_age``.

    The checklist says "backup completed" at T-24h without an age: the limit is a choice
    (``thresholds.backup_max_age_h``, default 24 h).
    """
    expected = (
        f"a successful backup younger than {max_age.total_seconds() / 3600:.0f} h "
        "(chosen: thresholds.backup_max_age_h; the checklist gives no age)"
    )
    if last_success is None:
        return failed(f"no successful backup recorded in {source}", expected=expected)
    age = now - last_success
    observed = {
        "last_success": last_success.isoformat(),
        "age_h": round(age.total_seconds() / 3600, 2),
        "source": source,
    }
    if age > max_age:
        return failed(
            f"last successful backup is {age.total_seconds() / 3600:.1f} h old ({source})",
            observed=observed,
            expected=expected,
        )
    return passed(
        f"last backup {age.total_seconds() / 3600:.1f} h ago ({source})", observed=observed, expected=expected
    )


def pool_fits(pools: Mapping[str, tuple[int, int]], max_connections: int, reserve: int) -> Verdict:
    """PRE-INF-2: sum over services of replicas x pool size < max_connections - reserve.

    The reserve (``thresholds.connection_reserve``, default 10: superuser and admin sessions) is a
    choice; the checklist says only "pool limits reviewed". It is part of the evidence.
    """
    if not pools:
        return inconclusive("no services with a connection pool to sum")
    demand = {name: replicas * pool for name, (replicas, pool) in pools.items()}
    total = sum(demand.values())
    budget = max_connections - reserve
    observed = {"per_service": demand, "total": total, "max_connections": max_connections, "reserve": reserve}
    if total > budget:
        return failed(
            f"pools need {total} connections, server allows {budget} "
            f"({max_connections} max_connections - {reserve} reserve)",
            observed=observed,
            expected=f"<= {budget}",
        )
    return passed(f"pools need {total} of {budget} connections", observed=observed, expected=f"<= {budget}")


def connections_below(in_use: int, max_connections: int, reserved: int, max_pct: float) -> Verdict:
    """MON-6: client connections stay below ``max_pct`` of what the server allows.

    "Exhaustion" has no number in the checklist: the rule chose ``thresholds.connections_pct``
    (default 80%) of ``max_connections`` minus the reserved connections, stated in ``expected``.
    """
    usable = max(max_connections - reserved, 1)
    pct = 100.0 * in_use / usable
    observed = {"in_use": in_use, "usable": usable, "pct": round(pct, 1)}
    over = pct >= max_pct
    return (failed if over else passed)(
        f"{in_use} of {usable} connections in use ({pct:.0f}%{f' >= {max_pct:.0f}%' if over else ''})",
        observed=observed,
        expected=f"< {max_pct:.0f}% (chosen: thresholds.connections_pct)",
    )


def slow_statements_below(statements: Sequence[Mapping[str, Any]], limit_ms: float) -> Verdict:
    """P24-4: no statement's mean execution time exceeds ``limit_ms``.

    "Slow" has no number in the checklist: the rule chose ``thresholds.slow_statement_ms``
    (default 500 ms, the checklist's p95 latency target), stated in ``expected``.
    """
    slow = [s for s in statements if float(s["mean_ms"]) > limit_ms]
    observed = [
        {"query": s["query"][:120], "calls": s["calls"], "mean_ms": round(float(s["mean_ms"]), 1)}
        for s in statements[:10]
    ]
    if not statements:
        return inconclusive("pg_stat_statements has no statements recorded")
    if slow:
        top = max(slow, key=lambda s: float(s["mean_ms"]))
        return failed(
            f"{len(slow)} statement(s) slower than {limit_ms:.0f} ms on average "
            f"(worst {float(top['mean_ms']):.0f} ms: {top['query'][:60]})",
            observed=observed,
            expected=f"mean < {limit_ms:.0f} ms (chosen: thresholds.slow_statement_ms)",
        )
    return passed(
        f"slowest statement {float(statements[0]['mean_ms']):.1f} ms on average",
        observed=observed,
        expected=f"mean < {limit_ms:.0f} ms (chosen: thresholds.slow_statement_ms)",
    )


def rows_present(table: str, count: int) -> Verdict:
    """PST-7: the table answers and is not empty."""
    if count <= 0:
        return failed(f"{table} is empty", observed=count, expected="> 0 rows")
    return passed(f"{table} has {count} rows", observed=count, expected="> 0 rows")
