"""Redis checks: memory limits (PRE-CFG-6), node/cluster health (PRE-INF-3), keyspace after deploy (PST-8)."""

from __future__ import annotations

import pytest

from nova_gate.backends.redis import rules as redis_rules


@pytest.mark.item("PRE-CFG-6")
def test_redis_memory_limits(redis_source, env, gate):
    facts = [redis_source.memory(address) for address in redis_source.addresses]
    t = env.thresholds
    gate.evidence(
        source="redis",
        query="CONFIG GET maxmemory*",
        observed=[f.__dict__ for f in facts],
        expected={
            "min_mb": t.redis_maxmemory_min_mb,
            "max_mb": t.redis_maxmemory_max_mb,
            "policy": env.expectations.redis_maxmemory_policy,
        },
    )
    gate.judge(
        redis_rules.memory_limits(
            facts, t.redis_maxmemory_min_mb, t.redis_maxmemory_max_mb, env.expectations.redis_maxmemory_policy
        )
    )


@pytest.mark.item("PRE-INF-3")
def test_redis_cluster_health(redis_source, env, gate):
    standalone = redis_source.node(redis_source.address)
    cluster = [redis_source.node(address) for address in env.backends.redis.cluster_nodes]
    gate.evidence(
        source="redis",
        query="PING; INFO replication; INFO cluster; CLUSTER INFO",
        observed={"standalone": standalone.as_dict(), "cluster": [n.as_dict() for n in cluster]},
        expected="PONG, cluster_state ok, 16384 slots ok, replicas online",
    )
    gate.judge(redis_rules.cluster_health(standalone, cluster))


@pytest.mark.item("PST-8")
def test_redis_keyspace(redis_source, gate):
    keyspace = redis_source.keyspace()
    db = f"db{redis_source.db}"
    gate.evidence(source="redis", query="INFO keyspace", observed=keyspace, expected=f"{db} keys > 0")
    gate.judge(redis_rules.keyspace_present(keyspace, db))
