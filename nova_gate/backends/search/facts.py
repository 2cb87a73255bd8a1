"""Elasticsearch/OpenSearch facts: cluster health, indices, unassigned shards. No I/O, no verdicts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ClusterHealth:
    cluster_name: str
    status: str  # green | yellow | red
    number_of_nodes: int
    active_primary_shards: int
    unassigned_shards: int
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class IndexFacts:
    name: str
    health: str  # green | yellow | red | "" (unknown, e.g. a closed index on old versions)
    status: str  # open | close
    primaries: int
    replicas: int
    docs: int | None = None


@dataclass(frozen=True)
class UnassignedShard:
    index: str
    shard: int
    primary: bool
    reason: str  # unassigned.reason, e.g. INDEX_CREATED, NODE_LEFT, ALLOCATION_FAILED
    explanation: str = ""  # from _cluster/allocation/explain, for primaries
