"""Kafka's config: the bootstrap servers, the expected broker count and how to authenticate (SASL
PLAIN/SCRAM over TLS, or mutual TLS); a topic's expected shape."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, model_validator

from nova_gate.backends.model import Model, Seconds


class Kafka(Model):
    bootstrap_servers: list[str] = Field(min_length=1)
    expected_brokers: Annotated[int, Field(ge=1)] = 3
    timeout_s: Seconds = 10
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    username: str | None = None
    password: SecretStr | None = None
    #: the CA bundle that signed the brokers' certificates (else the system's)
    ssl_cafile: Path | None = None
    #: a client certificate and key, for listeners that want one
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_check_hostname: bool = True

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> Kafka:
        if self.security_protocol.startswith("SASL_") and (not self.username or self.password is None):
            raise ValueError(f"security_protocol {self.security_protocol} needs username and password")
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ValueError("ssl_certfile and ssl_keyfile go together")
        return self


class Topic(Model):
    name: str
    partitions: Annotated[int, Field(ge=1)]
    replication_factor: Annotated[int, Field(ge=1)] = 3
    retention_ms: Annotated[int, Field(ge=-1)]
    cleanup_policy: Literal["delete", "compact", "compact,delete", "delete,compact"] = "delete"
