"""Elasticsearch/OpenSearch's config: the cluster URL and optional basic auth."""

from __future__ import annotations

from pydantic import SecretStr

from nova_gate.backends.model import Model, Seconds


class Search(Model):
    url: str
    username: str | None = None
    password: SecretStr | None = None
    timeout_s: Seconds = 10
