"""Prometheus's config: its HTTP API."""

from __future__ import annotations

from nova_gate.backends.model import Url


class Prometheus(Url):
    """Prometheus' HTTP API (``/api/v1``)."""
