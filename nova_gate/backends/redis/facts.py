"""Redis facts: a node's role, replication and cluster state; its memory limits. No I/O, no verdicts."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class NodeFacts:
    """One Redis instance as seen by PING, INFO replication and (when clustered) CLUSTER INFO."""

    address: str
    reachable: bool
    ping: bool = False
    role: str | None = None
    connected_replicas: int = 0
    replicas_online: int = 0
    master_link_status: str | None = None
    cluster_enabled: bool = False
    cluster: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class MemoryFacts:
    address: str
    maxmemory_bytes: int
    policy: str
