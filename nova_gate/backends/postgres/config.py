"""PostgreSQL's config: the primary (and its replicas) through read-only sessions with timeouts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr

from nova_gate.auth import Tls, read_secret
from nova_gate.backends.model import Model, Port


class PostgresReplica(Model):
    name: str
    host: str
    port: Port


class Postgres(Model):
    host: str
    port: Port = 5432
    dbname: str
    user: str
    password: SecretStr | None = None
    password_file: Path | None = None
    #: libpq's sslmode; verify-full checks the server's certificate and host name (recommended)
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = "prefer"
    #: sslrootcert (ca_file), sslcert/sslkey (cert_file/key_file) for a client certificate
    tls: Tls | None = None
    replicas: list[PostgresReplica] = []
    connect_timeout_s: Annotated[int, Field(ge=1, le=120)] = 5
    statement_timeout_ms: Annotated[int, Field(ge=100, le=600_000)] = 10_000
    backup_catalog: Path | None = Field(
        default=None, description="pgBackRest `info --output=json` file; else pg_stat_archiver"
    )

    def dsn(self, host: str | None = None, port: int | None = None) -> str:
        """A libpq conninfo string; contains the password, so never log it."""
        parts = {
            "host": host or self.host,
            "port": str(port or self.port),
            "dbname": self.dbname,
            "user": self.user,
            "connect_timeout": str(self.connect_timeout_s),
            "application_name": "nova-gate",
        }
        password = read_secret(self.password, self.password_file)
        if password is not None:
            parts["password"] = password
        parts["sslmode"] = self.sslmode
        if self.tls is not None:
            for key, path in (("sslrootcert", self.tls.ca_file), ("sslcert", self.tls.cert_file),
                              ("sslkey", self.tls.key_file)):
                if path is not None:
                    parts[key] = str(path)
        return " ".join(f"{k}='{_libpq_quote(v)}'" for k, v in parts.items())


def _libpq_quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")
