"""Prometheus's config: its HTTP API."""

from __future__ import annotations

from typing import Any

from pydantic import model_validator

from nova_gate.auth import HttpAuth, Tls
from nova_gate.backends.model import Url


class Prometheus(Url):
    """Prometheus' HTTP API (``/api/v1``).

    ``auth``: basic auth or a bearer token (``${ENV}`` or ``*_file``) and extra headers such as a
    Mimir/Cortex/Thanos tenant's ``X-Scope-OrgID``; ``tls``: the CA bundle and a client certificate.
    """

    auth: HttpAuth | None = None
    tls: Tls | None = None

    @model_validator(mode="after")
    def _one_credential(self) -> Prometheus:
        if self.token is not None and self.auth is not None:
            raise ValueError("token and auth are two ways to give a credential: put the token in auth")
        return self

    def client_options(self) -> dict[str, Any]:
        """httpx ``headers`` (credentials included: never log them) and ``verify``."""
        from nova_gate.auth import httpx_options

        options = httpx_options(self.auth, self.tls, self.url)
        if self.token is not None:
            options["headers"] = {**options["headers"], "Authorization": f"Bearer {self.token.get_secret_value()}"}
        return options
