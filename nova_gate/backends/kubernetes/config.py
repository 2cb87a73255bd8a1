"""Kubernetes' config: a kubeconfig (or in-cluster), context, timeouts and the list page size."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field

from nova_gate.backends.model import Model, Seconds


class Kubernetes(Model):
    kubeconfig: Path | None = None
    context: str | None = None
    timeout_s: Seconds = 10
    page_size: Annotated[int, Field(ge=1, le=5000)] = 500
