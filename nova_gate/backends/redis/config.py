"""Redis's config: the standalone URL and the cluster nodes, socket timeouts."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from nova_gate.auth import Tls
from nova_gate.backends.model import Model, Seconds


class Redis(Model):
    url: str  # rediss:// for TLS
    #: an ACL user (Redis 6+); unset: the password alone is AUTH's (the "default" user)
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    #: the CA bundle (and a client certificate); given, or a rediss:// url, means TLS everywhere,
    #: standalone and cluster nodes alike
    tls: Tls | None = None
    cluster_nodes: list[str] = []
    timeout_s: Seconds = 5

    @property
    def uses_tls(self) -> bool:
        return self.url.startswith("rediss://") or self.tls is not None
