"""Redis's config: the standalone URL and the cluster nodes, socket timeouts."""

from __future__ import annotations

from pydantic import SecretStr

from nova_gate.backends.model import Model, Seconds


class Redis(Model):
    url: str
    password: SecretStr | None = None
    cluster_nodes: list[str] = []
    timeout_s: Seconds = 5
