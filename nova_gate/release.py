"""The release under test: its version, baseline, services and where its sources are.

Below both ``nova_gate.config`` (which composes it into the environment file) and the backends
(the http backend's source takes a ``Release``), so neither imports the other for it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator

from nova_gate.backends.model import Model, Port

#: versions, environment and service names: they reach file names, git arguments, the terminal and
#: the HTML, so nothing that could be an option, a path, markup or a line break
IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
GitSha = Annotated[str, Field(pattern=r"^[0-9a-fA-F]{7,64}$")]


def check_identifier(value: str, what: str) -> str:
    """Raise ValueError unless ``value`` is a safe identifier (see IDENTIFIER)."""
    if not isinstance(value, str) or not IDENTIFIER.match(value) or ".." in value:
        raise ValueError(
            f"invalid {what} {value!r}: letters, digits and . _ + - only, starting with a letter or digit, "
            "at most 64 characters"
        )
    return value


class Service(Model):
    name: str
    port: Port
    health_path: str = "/api/v1/health"
    live_path: str = "/api/v1/health/live"
    ready_path: str = "/api/v1/health/ready"
    pool_size: Annotated[int, Field(ge=0)] = 10
    replicas: Annotated[int, Field(ge=0)] = 3

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        return check_identifier(value, "service name")


class Release(Model):
    version: str
    baseline_version: str
    namespace: Annotated[str, Field(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")] = "nova-backend"
    base_url: str = Field(description="where the services' HTTP APIs answer; {port} is substituted")
    http_timeout_s: Annotated[float, Field(gt=0, le=300)] = 10
    services: list[Service] = Field(min_length=1)
    git_sha: GitSha | None = None
    repo_dir: Path | None = None
    backend_dir: Path | None = Field(default=None, description="the Rust workspace of the release")
    migrations_dir: Path | None = None
    manifests_dir: Path | None = Field(
        default=None, description="the release's Kubernetes manifests; PRE-INF-1 reads the new requests from them"
    )
    rollback_target_version: int | None = Field(
        default=None, description="the baseline's last migration: what a revert goes back to"
    )

    @field_validator("version", "baseline_version")
    @classmethod
    def _no_dot_dot(cls, value: str) -> str:
        return check_identifier(value, "version")

    @field_validator("services")
    @classmethod
    def _unique_names(cls, services: list[Service]) -> list[Service]:
        names = [s.name for s in services]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate service names: {', '.join(dupes)}")
        return services

    def service(self, name: str) -> Service:
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)
