"""A sqlx migrations directory, read exactly the way sqlx resolves it.

The rules below follow ``sqlx-core/src/migrate/source.rs`` (``resolve_blocking``),
``migration.rs`` (``checksum``) and ``migration_type.rs`` (``MigrationType::from_filename``) of
launchbadge/sqlx, identical in 0.7.4, 0.8.x and the 0.9 development branch except where noted:

* Only regular files count (``fs::metadata(path).is_file()``, which follows symlinks; a symlink
  whose target is missing is a read error, not an ignored entry).
* The file name is split once on the first ``_``; if there is no ``_`` or the rest does not end
  with ``.sql`` (case-sensitive) the file is silently ignored (``README.md``, ``1_x.sql.bak``,
  ``1_x.sql~`` and ``.1_x.sql.swp`` are ignored).
* Otherwise the part before the ``_`` must parse as a Rust ``i64`` (ASCII digits, one optional
  leading ``+``/``-``, no spaces or underscores, within range) or sqlx fails with
  "error parsing migration filename"; ``README_notes.sql`` is an error, not ignored. sqlx does not
  reject zero or negative versions, nor duplicates (the ``_sqlx_migrations.version`` primary key
  does, at apply time): here a duplicate is an error up front.
* ``.up.sql`` → reversible up, ``.down.sql`` → reversible down, anything else ``.sql`` → simple.
  The description is the rest with that suffix trimmed (``trim_end_matches``: repeatedly) and every
  ``_`` replaced by a space; that is what sqlx stores in ``_sqlx_migrations.description``.
* The SQL is the whole file as UTF-8 (invalid UTF-8 is an error); nothing is stripped: no BOM
  removal, no CRLF → LF, no trimming. The checksum is SHA-384 of exactly those bytes. Up and down
  halves are separate migrations, each with its own checksum; ``_sqlx_migrations`` holds the up's.
* 0.8.0 added ``-- no-transaction``: a file whose text *starts with* exactly that string runs
  outside a transaction (the directive is part of the hashed text).
* The 0.9 branch adds ``sqlx.toml`` ``[migrate] ignored-chars`` (e.g. ``["\\r"]`` for CRLF
  checkouts): those characters are dropped before hashing only. 0.8 has no such option, so a CRLF
  checkout of an LF-applied migration is a checksum mismatch there. ``ignored_chars`` mirrors it.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from nova_gate.backends.base import Source, SourceError
from nova_gate.backends.postgres.facts import (
    NO_TRANSACTION,
    BadMigrationName,
    MigrationFile,
    parse_name,
)

BACKEND = "files"


def checksum(sql: str, ignored_chars: Iterable[str] = ()) -> bytes:
    """SHA-384 of the migration text (UTF-8), minus ``ignored_chars`` (sqlx 0.9 option)."""
    drop = set(ignored_chars)
    if drop:
        sql = "".join(ch for ch in sql if ch not in drop)
    return hashlib.sha384(sql.encode("utf-8")).digest()


def _lossy(name: str) -> str:
    """``OsStr::to_string_lossy``: undecodable bytes become U+FFFD."""
    return os.fsencode(name).decode("utf-8", errors="replace")


def list_directory(directory: Path) -> tuple[str, ...]:
    """Names of every entry of the directory (files and others), sorted; errors → SourceError."""
    try:
        return tuple(sorted(_lossy(entry) for entry in os.listdir(directory)))
    except OSError as exc:
        raise SourceError(BACKEND, f"cannot list migrations directory {directory}", exc) from exc


def read_migrations(directory: Path, ignored_chars: Iterable[str] = ()) -> tuple[MigrationFile, ...]:
    """Resolve a migrations directory like sqlx; sorted by version, forward before down.

    Raises SourceError("files", ...) for a missing or unreadable directory or file, a bad name,
    invalid UTF-8, a duplicate version, or a down file without its up.
    """
    directory = Path(directory)
    ignored = tuple(ignored_chars)
    if not directory.is_dir():
        what = "is not a directory" if directory.exists() else "does not exist"
        raise SourceError(BACKEND, f"migrations directory {directory} {what}")
    found: list[MigrationFile] = []
    try:
        entries = sorted(os.listdir(directory))
    except OSError as exc:
        raise SourceError(BACKEND, f"cannot list migrations directory {directory}", exc) from exc
    for raw_name in entries:
        path = directory / raw_name  # the real name; the lossy one is only parsed, as in sqlx
        try:
            mode = path.stat().st_mode  # follows symlinks, like fs::metadata
        except OSError as exc:
            raise SourceError(BACKEND, f"cannot stat migration path {path}", exc) from exc
        if not stat.S_ISREG(mode):
            continue
        try:
            parsed = parse_name(_lossy(raw_name))
        except BadMigrationName as exc:
            raise SourceError(BACKEND, f"bad migration file name in {directory}", exc) from exc
        if parsed is None:
            continue
        try:
            sql = path.read_bytes().decode("utf-8")
        except OSError as exc:
            raise SourceError(BACKEND, f"cannot read migration {path}", exc) from exc
        except UnicodeDecodeError as exc:
            raise SourceError(BACKEND, f"migration {path} is not valid UTF-8", exc) from exc
        found.append(
            MigrationFile(
                version=parsed.version,
                description=parsed.description,
                kind=parsed.kind,
                path=path,
                sql=sql,
                checksum=checksum(sql, ignored),
                no_transaction=sql.startswith(NO_TRANSACTION),
            )
        )
    return _pair(found, directory)


def _pair(found: list[MigrationFile], directory: Path) -> tuple[MigrationFile, ...]:
    forward: dict[int, MigrationFile] = {}
    downs: dict[int, MigrationFile] = {}
    for migration in found:
        table = forward if migration.kind.is_forward else downs
        other = table.get(migration.version)
        if other is not None:
            first, second = sorted((other.name, migration.name))
            raise SourceError(
                BACKEND, f"duplicate migration version {migration.version} in {directory}: {first}, {second}"
            )
        table[migration.version] = migration
    orphans = sorted(set(downs) - set(forward))
    if orphans:
        names = ", ".join(downs[v].name for v in orphans)
        raise SourceError(BACKEND, f"down migration without an up migration in {directory}: {names}")
    result: list[MigrationFile] = []
    for version in sorted(forward):
        down = downs.get(version)
        down_path = down.path if down is not None else None
        result.append(replace(forward[version], has_down=down is not None, down_path=down_path))
        if down is not None:
            result.append(replace(down, has_down=True, down_path=down_path))
    return tuple(result)


class MigrationFilesSource(Source):
    """The migrations directory as a source: counted calls, SourceError("files", ...) on failure."""

    backend = BACKEND
    driver_errors = (OSError, UnicodeDecodeError)

    def __init__(self, directory: Path, ignored_chars: Iterable[str] = ()) -> None:
        super().__init__()
        self.directory = Path(directory)
        self.ignored_chars = tuple(ignored_chars)

    def migrations(self) -> tuple[MigrationFile, ...]:
        with self.call("read migrations"):
            return read_migrations(self.directory, self.ignored_chars)

    def listing(self) -> tuple[str, ...]:
        with self.call("list migrations directory"):
            return list_directory(self.directory)
