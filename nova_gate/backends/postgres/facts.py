"""PostgreSQL facts: replicas, active queries, backups, applied migrations and migration files.
No I/O, no verdicts: the sources, the migration rules and the SQL lint all import from here."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

NO_TRANSACTION = "-- no-transaction"
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True)
class ReplicaFacts:
    name: str
    reachable: bool
    in_recovery: bool | None = None
    receive_lsn: str | None = None
    replay_lsn: str | None = None
    replay_paused: bool | None = None
    replay_timestamp: dt.datetime | None = None
    lag_bytes: int | None = None  # primary's current LSN minus this replica's replay LSN
    lag_s: float | None = None  # pg_stat_replication.replay_lag on the primary (None when caught up)
    streaming: bool = False
    error: str | None = None


@dataclass(frozen=True)
class ActiveQuery:
    pid: int
    user: str | None
    application: str | None
    state: str | None
    seconds: float
    query: str


@dataclass(frozen=True)
class BackupFacts:
    source: str
    last_success: dt.datetime | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class AppliedMigration:
    """One row of ``_sqlx_migrations``; ``execution_time`` is in nanoseconds, as sqlx stores it."""

    version: int
    description: str
    installed_on: datetime | None
    success: bool
    checksum: bytes
    execution_time: int = 0


class MigrationKind(enum.StrEnum):
    SIMPLE = "simple"
    UP = "up"
    DOWN = "down"

    @property
    def suffix(self) -> str:
        return {"simple": ".sql", "up": ".up.sql", "down": ".down.sql"}[self.value]

    @property
    def is_forward(self) -> bool:
        return self is not MigrationKind.DOWN


@dataclass(frozen=True)
class MigrationFile:
    """One resolved migration file (sqlx's ``Migration`` plus where it came from)."""

    version: int
    description: str
    kind: MigrationKind
    path: Path
    sql: str
    checksum: bytes
    has_down: bool = False
    down_path: Path | None = None
    no_transaction: bool = False

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class ParsedName:
    version: int
    description: str
    kind: MigrationKind


class BadMigrationName(ValueError):
    """sqlx would refuse this file name (the version is not an i64)."""


def parse_i64(text: str) -> int | None:
    """Rust's ``str::parse::<i64>``: optional sign, ASCII digits only, in range; else None."""
    body = text[1:] if text[:1] in ("+", "-") else text
    if not body or any(ch not in "0123456789" for ch in body):
        return None
    value = int(text)
    return value if _I64_MIN <= value <= _I64_MAX else None


def kind_of(rest: str) -> MigrationKind:
    """``MigrationType::from_filename`` on the part after the first ``_``."""
    if rest.endswith(MigrationKind.UP.suffix):
        return MigrationKind.UP
    if rest.endswith(MigrationKind.DOWN.suffix):
        return MigrationKind.DOWN
    return MigrationKind.SIMPLE


def parse_name(file_name: str) -> ParsedName | None:
    """sqlx's reading of a file name: None if sqlx ignores the file; raise if sqlx errors."""
    version_text, sep, rest = file_name.partition("_")
    if not sep or not rest.endswith(".sql"):
        return None
    version = parse_i64(version_text)
    if version is None:
        raise BadMigrationName(f"error parsing migration filename {file_name!r}; expected integer version prefix")
    kind = kind_of(rest)
    description = rest
    while description.endswith(kind.suffix):  # Rust trim_end_matches strips every repetition
        description = description[: -len(kind.suffix)]
    return ParsedName(version, description.replace("_", " "), kind)


def forward_migrations(files: Iterable[MigrationFile]) -> tuple[MigrationFile, ...]:
    """The simple and up migrations (what ``sqlx migrate run``/``info`` consider), by version."""
    return tuple(sorted((f for f in files if f.kind.is_forward), key=lambda f: f.version))
