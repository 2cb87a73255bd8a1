"""ClickHouse's config: its HTTP interface (clickhouse-connect)."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from nova_gate.auth import Tls
from nova_gate.backends.model import Model, Port, Seconds


class ClickHouse(Model):
    host: str
    port: Port = 8123
    database: str = "default"
    user: str = "default"
    password: SecretStr | None = None
    password_file: Path | None = None
    #: HTTPS (ClickHouse's https_port, 8443); implied by ``tls``
    secure: bool = False
    tls: Tls | None = None
    timeout_s: Seconds = 10
