"""The services' own HTTP APIs are configured under ``release`` (base_url, services); the JWKS
endpoint of the auth service under ``backends.jwks``."""

from __future__ import annotations

from nova_gate.backends.model import Url


class Jwks(Url):
    """The JSON Web Key Set the services sign tokens with."""
