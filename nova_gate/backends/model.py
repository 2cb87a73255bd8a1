"""The pieces every backend's config model is built from (pydantic, strict: unknown keys are errors)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr

Port = Annotated[int, Field(ge=1, le=65535)]
Seconds = Annotated[float, Field(gt=0, le=3600)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Url(Model):
    """An HTTP API: its base URL, an optional bearer token, a timeout."""

    url: str
    token: SecretStr | None = None
    timeout_s: Seconds = 10
