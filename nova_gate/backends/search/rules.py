"""Search-cluster rules (Elasticsearch / OpenSearch): pure functions over search-source facts.

* PRE-INF-6 :func:`indices_healthy` — no red index and no unassigned primary (FAIL); a yellow
  index, i.e. unassigned replicas, is a WARN naming them; no indices at all is INCONCLUSIVE, and so
  is an open index whose health is not reported (it could be red), whatever else is yellow.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from nova_gate.backends.search.facts import IndexFacts, UnassignedShard
from nova_gate.verdict import Verdict, failed, inconclusive, passed, warned

_NAMED = 6


def _names(items: Sequence[str], limit: int = _NAMED) -> str:
    if len(items) <= limit:
        return ", ".join(items)
    return f"{', '.join(items[:limit])} and {len(items) - limit} more"


def _shard(s: UnassignedShard) -> str:
    text = f"{s.index}[{s.shard}]{'p' if s.primary else 'r'}"
    if s.reason:
        text += f" ({s.reason})"
    return text


def indices_healthy(
    indices: Sequence[IndexFacts],
    unassigned: Sequence[UnassignedShard],
    expected: Iterable[str] = (),
) -> Verdict:
    """PRE-INF-6. ``expected`` (optional) are index names that must exist."""
    wanted = list(dict.fromkeys(expected))
    by_name = {i.name: i for i in indices}
    observed: dict[str, Any] = {
        "indices": {i.name: i.health or "unknown" for i in indices},
        "unassigned": [_shard(s) for s in unassigned],
    }
    expected_text = {"health": "green", "unassigned_primaries": 0, "indices": wanted}
    if not indices:
        return inconclusive("no indices found in the search cluster", observed, expected_text)

    red = sorted(i.name for i in indices if i.health == "red")
    primaries = [s for s in unassigned if s.primary]
    replicas = [s for s in unassigned if not s.primary]
    yellow = sorted(i.name for i in indices if i.health == "yellow")
    missing = [n for n in wanted if n not in by_name]
    unknown = sorted(i.name for i in indices if i.health not in ("green", "yellow", "red") and i.status != "close")

    problems: list[str] = []
    if red:
        problems.append(f"{len(red)} red index(es): {_names(red)}")
    if primaries:
        named = [_shard(s) + (f": {s.explanation}" if s.explanation else "") for s in primaries]
        problems.append(f"{len(primaries)} unassigned primary shard(s): {_names(named, 3)}")
    if missing:
        problems.append(f"expected index(es) missing: {_names(missing)}")
    if problems:
        return failed("; ".join(problems), observed, expected_text, red=red, missing=missing)
    yellow_text = ""
    if yellow or replicas:
        named = [_shard(s) for s in replicas]
        yellow_text = f"{len(yellow)} yellow index(es): {_names(yellow)}"
        if named:
            yellow_text += f"; unassigned replica(s): {_names(named)}"
    if unknown:
        # an index of unknown health may be red: that blocks, a yellow one elsewhere cannot soften it
        text = f"index health not reported for: {_names(unknown)}"
        return inconclusive(f"{text}; {yellow_text}" if yellow_text else text, observed, expected_text, yellow=yellow)
    if yellow_text:
        return warned(yellow_text, observed, expected_text, yellow=yellow)
    return passed(f"all {len(indices)} indices green, no unassigned shards", observed, expected_text)
