"""PagerDuty's config: its REST API v2 and a read-only API key."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr, model_validator

from nova_gate.auth import Tls
from nova_gate.backends.model import Model, Seconds


class PagerDuty(Model):
    """PagerDuty's REST API (``https://api.pagerduty.com``); a read-only REST API key, sent as
    ``Authorization: Token token=...`` (``token`` as ``${ENV}`` or ``token_file``)."""

    url: str = "https://api.pagerduty.com"
    token: SecretStr | None = None
    token_file: Path | None = None
    tls: Tls | None = None
    timeout_s: Seconds = 10
    #: the escalation level that must be covered (1: the first responder)
    escalation_level: int = 1

    @model_validator(mode="after")
    def _one_token(self) -> PagerDuty:
        if self.token is not None and self.token_file is not None:
            raise ValueError("token and token_file are two ways to say the same thing: give one")
        return self
