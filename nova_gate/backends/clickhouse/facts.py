"""ClickHouse facts: active parts per partition. No I/O, no verdicts."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PartitionParts:
    table: str
    partition: str
    active_parts: int
