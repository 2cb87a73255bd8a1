"""Redis verdicts: memory limits (PRE-CFG-6), node and cluster health (PRE-INF-3), keyspace (PST-8)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from nova_gate.backends.redis.facts import MemoryFacts, NodeFacts
from nova_gate.verdict import Verdict, failed, passed

CLUSTER_SLOTS = 16384
MB = 1024 * 1024


def memory_limits(facts: Sequence[MemoryFacts], min_mb: float, max_mb: float, policy: str) -> Verdict:
    """PRE-CFG-6: every instance has maxmemory set, within [min_mb, max_mb], and the expected policy."""
    expected = {"maxmemory_mb": [min_mb, max_mb], "maxmemory-policy": policy}
    observed = {f.address: {"maxmemory_mb": round(f.maxmemory_bytes / MB, 1), "policy": f.policy} for f in facts}
    if not facts:
        return failed("no Redis instance answered CONFIG GET maxmemory", observed, expected)
    problems = []
    for f in facts:
        mb = f.maxmemory_bytes / MB
        if f.maxmemory_bytes <= 0:
            problems.append(f"{f.address}: maxmemory not set (0 = unbounded)")
        elif not min_mb <= mb <= max_mb:
            problems.append(f"{f.address}: maxmemory {mb:.0f} MB outside {min_mb:g}..{max_mb:g} MB")
        if f.policy != policy:
            problems.append(f"{f.address}: maxmemory-policy {f.policy or '?'} (expected {policy})")
    if problems:
        return failed("; ".join(problems), observed, expected)
    return passed(f"{len(facts)} instance(s): maxmemory within bounds, policy {policy}", observed, expected)


def _node_problems(node: NodeFacts, clustered: bool) -> list[str]:
    if not node.reachable:
        return [f"{node.address} unreachable ({node.error})"]
    problems = []
    if not node.ping:
        problems.append(f"{node.address} did not answer PONG")
    if node.role not in ("master", "slave", "replica"):
        problems.append(f"{node.address} reports role {node.role!r}")
    if node.role in ("slave", "replica") and node.master_link_status != "up":
        problems.append(f"{node.address} is a replica with master link {node.master_link_status or '?'}")
    if node.connected_replicas and node.replicas_online < node.connected_replicas:
        problems.append(f"{node.address}: {node.replicas_online}/{node.connected_replicas} replicas online")
    if clustered:
        info = node.cluster
        if not node.cluster_enabled:
            problems.append(f"{node.address} is configured as a cluster node but cluster mode is off")
        elif info.get("cluster_state") != "ok":
            problems.append(f"{node.address} cluster_state {info.get('cluster_state') or '?'}")
        else:
            for key in ("cluster_slots_assigned", "cluster_slots_ok"):
                if info.get(key) != str(CLUSTER_SLOTS):
                    problems.append(f"{node.address} {key} {info.get(key) or '?'}/{CLUSTER_SLOTS}")
            if info.get("cluster_slots_fail", "0") != "0" or info.get("cluster_slots_pfail", "0") != "0":
                problems.append(
                    f"{node.address} has failing slots (pfail {info.get('cluster_slots_pfail')},"
                    f" fail {info.get('cluster_slots_fail')})"
                )
    return problems


def cluster_health(standalone: NodeFacts, cluster_nodes: Sequence[NodeFacts]) -> Verdict:
    """PRE-INF-3: PING and role everywhere; cluster_state ok with all slots on every cluster node."""
    observed = {"standalone": standalone.as_dict(), "cluster": [n.as_dict() for n in cluster_nodes]}
    expected = {
        "ping": "PONG",
        "cluster_state": "ok",
        "cluster_slots_ok": CLUSTER_SLOTS,
        "replicas": "all online",
    }
    problems = _node_problems(standalone, clustered=False)
    for node in cluster_nodes:
        problems += _node_problems(node, clustered=True)
    if problems:
        return failed("; ".join(problems), observed, expected)
    what = f"standalone {standalone.address} ({standalone.role})"
    if cluster_nodes:
        what += f" and {len(cluster_nodes)} cluster node(s): cluster_state ok, {CLUSTER_SLOTS} slots ok"
    return passed(f"{what}; replicas connected", observed, expected)


def keyspace_present(keyspace: Mapping[str, Mapping[str, int]], db: str) -> Verdict:
    """PST-8: INFO keyspace lists the configured database with at least one key."""
    keys = int(keyspace.get(db, {}).get("keys", 0))
    observed = {name: dict(v) for name, v in keyspace.items()}
    if keys <= 0:
        return failed(
            f"Redis INFO keyspace has no keys in {db} (cache empty or wrong instance)",
            observed,
            f"{db} keys > 0",
        )
    return passed(f"Redis {db} holds {keys} keys", observed, f"{db} keys > 0")
