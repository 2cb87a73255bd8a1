"""Grafana's config: its HTTP API and a service-account token."""

from __future__ import annotations

from nova_gate.backends.model import Url


class Grafana(Url):
    """Grafana's HTTP API (``/api``), a read-only service-account token."""
