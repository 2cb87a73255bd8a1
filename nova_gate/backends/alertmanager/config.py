"""Alertmanager's config: its API v2."""

from __future__ import annotations

from nova_gate.backends.model import AuthUrl


class Alertmanager(AuthUrl):
    """Alertmanager's HTTP API (``/api/v2``). Credentials and TLS as ``AuthUrl``."""
