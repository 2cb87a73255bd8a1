"""Facts of the services' HTTP APIs: one answer (method, url, status, body, time). No I/O, no verdicts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class HttpAnswer:
    """One request and its answer (the body decoded when it is JSON, else its first 300 chars)."""

    method: str
    url: str
    status: int
    body: Any
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "url": self.url,
            "status": self.status,
            "body": self.body,
            "seconds": self.seconds,
        }
