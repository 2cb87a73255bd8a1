"""ClickHouse's config: its HTTP interface (clickhouse-connect)."""

from __future__ import annotations

from pydantic import SecretStr

from nova_gate.backends.model import Model, Port, Seconds


class ClickHouse(Model):
    host: str
    port: Port = 8123
    database: str = "default"
    user: str = "default"
    password: SecretStr | None = None
    timeout_s: Seconds = 10
