"""Kafka facts: brokers, topics and partitions, consumer lag. No I/O, no verdicts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple


@dataclass(frozen=True)
class BrokerFacts:
    node_id: int
    host: str
    port: int
    rack: str | None = None
    fenced: bool = False


@dataclass(frozen=True)
class PartitionFacts:
    partition: int
    leader: int  # -1: no leader
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    offline: tuple[int, ...] = ()

    @property
    def under_replicated(self) -> bool:
        return set(self.isr) != set(self.replicas)


@dataclass(frozen=True)
class TopicFacts:
    name: str
    partitions: int
    replication_factor: int
    configs: Mapping[str, str] = field(default_factory=dict)
    partition_details: tuple[PartitionFacts, ...] = ()


class PartitionLag(NamedTuple):
    """``committed`` is the group's position: its committed offset, or for a partition it never
    committed (``uncommitted``), the log-start offset a consumer with ``auto.offset.reset=earliest``
    begins at, so that every retained message counts as lag."""

    committed: int
    end: int
    lag: int
    uncommitted: bool = False
