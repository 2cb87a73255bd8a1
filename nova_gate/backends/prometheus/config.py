"""Prometheus's config: its HTTP API."""

from __future__ import annotations

from nova_gate.backends.model import AuthUrl


class Prometheus(AuthUrl):
    """Prometheus' HTTP API (``/api/v1``). Credentials and TLS as ``AuthUrl``."""
