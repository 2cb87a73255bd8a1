"""The pieces every backend's config model is built from (pydantic, strict: unknown keys are errors)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from nova_gate.auth import HttpAuth, Tls

Port = Annotated[int, Field(ge=1, le=65535)]
Seconds = Annotated[float, Field(gt=0, le=3600)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Url(Model):
    """An HTTP API: its base URL, an optional bearer token, a timeout."""

    url: str
    token: SecretStr | None = None
    timeout_s: Seconds = 10


class AuthUrl(Url):
    """An HTTP API behind credentials and TLS (Prometheus' and Alertmanager's, and those shaped like them).

    ``auth``: basic auth or a bearer token (``${ENV}`` or ``*_file``) and extra headers such as a
    Mimir/Cortex/Thanos tenant's ``X-Scope-OrgID``; ``tls``: the CA bundle and a client certificate.
    """

    auth: HttpAuth | None = None
    tls: Tls | None = None

    @model_validator(mode="after")
    def _one_credential(self) -> AuthUrl:
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
