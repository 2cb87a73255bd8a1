"""Redis rules on hand-built facts (PRE-CFG-6, PRE-INF-3, PST-8) and the source on a closed port."""

from __future__ import annotations

import time

import pytest

from nova_gate.backends.base import SourceError
from nova_gate.backends.redis.config import Redis
from nova_gate.backends.redis.facts import MemoryFacts, NodeFacts
from nova_gate.backends.redis.rules import CLUSTER_SLOTS, MB, cluster_health, keyspace_present, memory_limits
from nova_gate.backends.redis.source import RedisSource
from nova_gate.testing import free_port
from nova_gate.verdict import Label

OK_CLUSTER = {
    "cluster_state": "ok",
    "cluster_slots_assigned": str(CLUSTER_SLOTS),
    "cluster_slots_ok": str(CLUSTER_SLOTS),
    "cluster_slots_pfail": "0",
    "cluster_slots_fail": "0",
}


def node(address: str = "h:1", **kw: object) -> NodeFacts:
    base: dict[str, object] = {"reachable": True, "ping": True, "role": "master"}
    base.update(kw)
    return NodeFacts(address, **base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("maxmemory", "policy", "label"),
    [
        (256 * MB, "allkeys-lru", Label.PASS),
        (0, "allkeys-lru", Label.FAIL),
        (16 * MB, "allkeys-lru", Label.FAIL),
        (128 * 1024 * MB, "allkeys-lru", Label.FAIL),
        (256 * MB, "noeviction", Label.FAIL),
    ],
)
def test_memory_limits(maxmemory: int, policy: str, label: Label) -> None:
    v = memory_limits([MemoryFacts("h:1", maxmemory, policy)], 64, 65536, "allkeys-lru")
    assert v.label is label, v.reason


def test_memory_limits_without_facts_fails() -> None:
    assert memory_limits([], 64, 65536, "allkeys-lru").label is Label.FAIL


def test_cluster_healthy() -> None:
    cluster = [node(f"h:{i}", cluster_enabled=True, cluster=OK_CLUSTER) for i in (1, 2, 3)]
    assert cluster_health(node(), cluster).label is Label.PASS


@pytest.mark.parametrize(
    "bad",
    [
        node("c:1", reachable=False, error="refused"),
        node("c:1", cluster_enabled=True, cluster={**OK_CLUSTER, "cluster_state": "fail"}),
        node("c:1", cluster_enabled=True, cluster={**OK_CLUSTER, "cluster_slots_ok": "10923"}),
        node("c:1", cluster_enabled=False),
        node("c:1", cluster_enabled=True, cluster=OK_CLUSTER, connected_replicas=1, replicas_online=0),
        node("c:1", cluster_enabled=True, cluster=OK_CLUSTER, role="slave", master_link_status="down"),
        node("c:1", cluster_enabled=True, cluster={}),
    ],
)
def test_cluster_problems_fail(bad: NodeFacts) -> None:
    assert cluster_health(node(), [bad]).label is Label.FAIL


def test_standalone_unreachable_fails() -> None:
    assert cluster_health(node(reachable=False, error="x"), []).label is Label.FAIL


def test_keyspace() -> None:
    assert keyspace_present({"db0": {"keys": 5, "expires": 1}}, "db0").label is Label.PASS
    assert keyspace_present({}, "db0").label is Label.FAIL
    assert keyspace_present({"db1": {"keys": 5}}, "db0").label is Label.FAIL


def test_unreachable_redis_is_a_source_error_in_bounded_time() -> None:
    port = free_port()
    cfg = Redis(url=f"redis://127.0.0.1:{port}/0", cluster_nodes=[f"127.0.0.1:{port}"], timeout_s=1)
    src = RedisSource(cfg)
    started = time.monotonic()
    with pytest.raises(SourceError, match="redis"):
        src.memory(src.address)
    with pytest.raises(SourceError):
        src.keyspace()
    facts = src.node(f"127.0.0.1:{port}")
    assert not facts.reachable and facts.error
    assert cluster_health(facts, []).label is Label.FAIL
    assert time.monotonic() - started < 10
    src.close()
