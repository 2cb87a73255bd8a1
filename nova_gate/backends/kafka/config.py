"""Kafka's config: the bootstrap servers and the expected broker count; a topic's expected shape."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from nova_gate.backends.model import Model, Seconds


class Kafka(Model):
    bootstrap_servers: list[str] = Field(min_length=1)
    expected_brokers: Annotated[int, Field(ge=1)] = 3
    timeout_s: Seconds = 10


class Topic(Model):
    name: str
    partitions: Annotated[int, Field(ge=1)]
    replication_factor: Annotated[int, Field(ge=1)] = 3
    retention_ms: Annotated[int, Field(ge=-1)]
    cleanup_policy: Literal["delete", "compact", "compact,delete", "delete,compact"] = "delete"
