"""Alertmanager's config: its API v2."""

from __future__ import annotations

from nova_gate.backends.model import Url


class Alertmanager(Url):
    """Alertmanager's HTTP API (``/api/v2``)."""
