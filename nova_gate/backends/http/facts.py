"""Facts of the services' HTTP APIs: one answer (method, url, status, body, time). No I/O, no verdicts."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class NotAnswered:
    """A request that got no answer (unreachable, timed out) or was not sent (its prerequisite gave
    nothing to send with): a fact for the rule, which decides what it means."""

    step: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"step": self.step, "not_answered": self.reason}


@dataclass(frozen=True)
class HttpAnswer:
    """One request and its answer (the body decoded when it is JSON, else its first 300 chars)."""

    method: str
    url: str
    status: int
    body: Any
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def access_token(answer: HttpAnswer | NotAnswered) -> str | None:
    """The bearer token a login answer carries (``access_token`` or ``token``), if any."""
    body = answer.body if isinstance(answer, HttpAnswer) else None
    token = (body.get("access_token") or body.get("token")) if isinstance(body, dict) else None
    return token if isinstance(token, str) else None
