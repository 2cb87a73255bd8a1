"""What any secrets store says about one secret (HashiCorp Vault's KV v2 metadata, AWS Secrets
Manager's DescribeSecret): the fact type the shared rule ``nova_gate.rules.secrets`` judges.

A store that knows less leaves the rotation fields at their defaults. Values are never part of it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class SecretFacts:
    name: str
    exists: bool
    #: when the secret's value last changed (None: the store gives no time)
    updated: dt.datetime | None = None
    #: the store holds a current value (Secrets Manager: a version staged AWSCURRENT)
    has_current: bool = True
    #: scheduled for deletion at this time (Secrets Manager's DeletedDate): unusable now
    deletion_date: dt.datetime | None = None
    rotation_enabled: bool = False
    #: when the next automatic rotation is due (NextRotationDate, or last rotation + its interval)
    rotation_due: dt.datetime | None = None
    #: a version staged AWSPENDING that is not AWSCURRENT: a rotation began and did not finish
    rotation_pending: bool = False


class SecretStore(Protocol):
    """A source that can describe secrets by name (the PRE-CFG-2 checks take any of them)."""

    backend: str

    def secrets(self, names: list[str]) -> dict[str, SecretFacts]: ...
