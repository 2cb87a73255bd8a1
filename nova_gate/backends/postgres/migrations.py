"""Migration-state rules: the migration files against ``_sqlx_migrations``, as pure functions.

``migrate_info`` is ``sqlx migrate info`` (sqlx-cli/src/migrate.rs ``info``) plus what
``sqlx migrate run`` refuses on (``dirty_version``: a ``success = false`` row; ``VersionMissing``:
an applied version with no file). Down files are not migrations of their own here, as in sqlx.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pglast import ast, enums

from nova_gate.backends.postgres.facts import AppliedMigration, MigrationFile, forward_migrations, parse_name
from nova_gate.backends.postgres.sql_lint import SqlSyntaxError, statements
from nova_gate.verdict import Verdict, failed, passed

#: names a migrations directory may hold besides migrations (P24-12)
DEFAULT_ALLOWED_FILES = frozenset({".gitkeep", ".keep"})
TEMPORARY_SUFFIXES = (".tmp", ".bak", "~", ".orig", ".swp", ".swo", ".rej")


class Status(enum.StrEnum):
    APPLIED = "applied"
    PENDING = "pending"
    FAILED = "failed"
    CHECKSUM_MISMATCH = "checksum mismatch"
    MISSING = "applied but missing on disk"


PROBLEMS = frozenset({Status.FAILED, Status.CHECKSUM_MISMATCH, Status.MISSING})


@dataclass(frozen=True)
class MigrationStatus:
    version: int
    description: str
    status: Status
    local_checksum: bytes | None = None
    applied_checksum: bytes | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "version": self.version,
            "description": self.description,
            "status": str(self.status),
        }
        if self.status is Status.CHECKSUM_MISMATCH:
            out["local_checksum"] = (self.local_checksum or b"").hex()
            out["applied_checksum"] = (self.applied_checksum or b"").hex()
        return out


def migrate_info(files: Iterable[MigrationFile], applied: Iterable[AppliedMigration]) -> tuple[MigrationStatus, ...]:
    """Per version: applied / pending / failed / checksum mismatch / applied but missing on disk.

    A ``success = false`` row is FAILED whatever its checksum (sqlx refuses to run: "dirty").
    """
    local = {f.version: f for f in forward_migrations(files)}
    rows = {row.version: row for row in applied}
    out: list[MigrationStatus] = []
    for version in sorted(set(local) | set(rows)):
        file, row = local.get(version), rows.get(version)
        if row is None:
            assert file is not None
            out.append(MigrationStatus(version, file.description, Status.PENDING, file.checksum))
            continue
        if not row.success:
            status = Status.FAILED
        elif file is None:
            status = Status.MISSING
        elif file.checksum != row.checksum:
            status = Status.CHECKSUM_MISMATCH
        else:
            status = Status.APPLIED
        description = file.description if file is not None else row.description
        local_sum = file.checksum if file is not None else None
        out.append(MigrationStatus(version, description, status, local_sum, row.checksum))
    return tuple(out)


def _by_status(info: Iterable[MigrationStatus]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {str(s): [] for s in Status}
    for item in info:
        groups[str(item.status)].append(item.version)
    return groups


def _problem_text(info: Sequence[MigrationStatus], statuses: Iterable[Status]) -> str:
    parts = []
    for status in statuses:
        versions = [str(i.version) for i in info if i.status is status]
        if versions:
            parts.append(f"{status}: {', '.join(versions)}")
    return "; ".join(parts)


def migration_state(files: Iterable[MigrationFile], applied: Iterable[AppliedMigration]) -> Verdict:
    """PRE-DB-5 / MIG-1: no failed row, no checksum mismatch, nothing applied that is not on disk.

    Pending migrations are normal before a deploy; they are listed in the evidence.
    """
    info = migrate_info(files, applied)
    groups = _by_status(info)
    observed = {"info": [i.as_dict() for i in info], **groups}
    expected = "no failed rows, no checksum mismatches, every applied version present on disk"
    bad = [i for i in info if i.status in PROBLEMS]
    if bad:
        return failed(
            "migration state is inconsistent: "
            + _problem_text(info, (Status.FAILED, Status.CHECKSUM_MISMATCH, Status.MISSING)),
            observed,
            expected,
        )
    pending = groups[str(Status.PENDING)]
    applied_count = len(groups[str(Status.APPLIED)])
    tail = f"; pending: {', '.join(map(str, pending))}" if pending else "; nothing pending"
    return passed(f"{applied_count} migration(s) applied consistently{tail}", observed, expected)


def all_applied(files: Iterable[MigrationFile], applied: Iterable[AppliedMigration]) -> Verdict:
    """PRE-DB-2 (staging) / MIG-3: every migration file applied, successfully, same checksum."""
    info = migrate_info(files, applied)
    observed = {"info": [i.as_dict() for i in info], **_by_status(info)}
    expected = "every migration file applied with success and the same checksum"
    if not info:
        return failed("no migration files and no applied migrations found", observed, expected)
    bad = [i for i in info if i.status is not Status.APPLIED]
    if bad:
        order = (Status.PENDING, Status.FAILED, Status.CHECKSUM_MISMATCH, Status.MISSING)
        return failed(f"not all migrations applied: {_problem_text(info, order)}", observed, expected)
    return passed(f"all {len(info)} migration(s) applied, checksums match", observed, expected)


def pending_migrations(
    files: Iterable[MigrationFile], applied: Iterable[AppliedMigration]
) -> tuple[MigrationFile, ...]:
    """The forward migration files with no ``_sqlx_migrations`` row."""
    done = {row.version for row in applied}
    return tuple(f for f in forward_migrations(files) if f.version not in done)


def down_migrations_present(pending: Iterable[MigrationFile], waivers: Collection[int] = ()) -> Verdict:
    """PRE-DB-3: every pending migration has a ``.down.sql`` or a waiver entry naming its version."""
    todo = forward_migrations(pending)
    waived_versions = {int(v) for v in waivers}
    with_down = [f.version for f in todo if f.has_down]
    waived = [f.version for f in todo if not f.has_down and f.version in waived_versions]
    missing = [f for f in todo if not f.has_down and f.version not in waived_versions]
    observed = {"pending": [f.version for f in todo], "with_down": with_down, "waived": waived}
    expected = "a down migration (or a waiver) for every pending migration"
    if missing:
        names = ", ".join(f.path.name for f in missing)
        return failed(
            f"{len(missing)} pending migration(s) without a down migration or waiver: {names}",
            {**observed, "missing_down": [f.version for f in missing]},
            expected,
        )
    if not todo:
        return passed("no pending migrations", observed, expected)
    note = f" ({len(waived)} by waiver: {', '.join(map(str, waived))})" if waived else ""
    return passed(f"all {len(todo)} pending migration(s) are reversible{note}", observed, expected)


def no_failed_rows(applied: Iterable[AppliedMigration]) -> Verdict:
    """MIG-5: no ``_sqlx_migrations`` row with ``success = false``."""
    rows = list(applied)
    bad = [r for r in rows if not r.success]
    observed = {
        "rows": len(rows),
        "failed": [{"version": r.version, "description": r.description} for r in bad],
    }
    if bad:
        versions = ", ".join(str(r.version) for r in bad)
        return failed(f"{len(bad)} failed migration row(s): {versions}", observed, "no success=false rows")
    return passed(f"no failed rows among {len(rows)} applied migration(s)", observed, "no success=false rows")


def at_version(applied: Iterable[AppliedMigration], target: int) -> Verdict:
    """RBK-3: after a rollback the database is at ``target`` (0 = everything reverted).

    That is: the highest applied version is ``target``, nothing above it, no failed row.
    """
    rows = sorted(applied, key=lambda r: r.version)
    current = rows[-1].version if rows else 0
    above = [r.version for r in rows if r.version > target]
    failed_rows = [r.version for r in rows if not r.success]
    observed = {"version": current, "above_target": above, "failed": failed_rows}
    expected = {"version": target}
    if failed_rows:
        return failed(f"failed migration row(s) {failed_rows} (target {target})", observed, expected)
    if above:
        return failed(f"database at version {current}, above rollback target {target}", observed, expected)
    if current != target:
        return failed(f"database at version {current}, below rollback target {target}", observed, expected)
    return passed(f"database at version {target}", observed, expected)


def _is_migration_name(name: str) -> bool:
    try:
        return parse_name(name) is not None
    except ValueError:
        return False


def _is_temporary(name: str) -> bool:
    return name.endswith(TEMPORARY_SUFFIXES) or (name.startswith("#") and name.endswith("#"))


def no_temporary_files(listing: Iterable[str], allowed: Collection[str] = DEFAULT_ALLOWED_FILES) -> Verdict:
    """P24-12: no ``*.tmp``, ``*.bak``, ``*~``, ``*.orig``, ``*.swp`` or stray files in the dir.

    A stray file is anything that is not a migration sqlx would resolve (e.g. ``README.md``,
    ``notes_1.sql``), except the names in ``allowed``.
    """
    names = sorted(listing)
    temporary = [n for n in names if n.endswith(TEMPORARY_SUFFIXES) or (n.startswith("#") and n.endswith("#"))]
    stray = [n for n in names if n not in temporary and n not in allowed and not _is_migration_name(n)]
    observed = {"entries": len(names), "temporary": temporary, "stray": stray}
    expected = "only <version>_<description>[.up|.down].sql files"
    if temporary or stray:
        parts = []
        if temporary:
            parts.append(f"temporary: {', '.join(temporary)}")
        if stray:
            parts.append(f"stray: {', '.join(stray)}")
        return failed("unexpected files in the migrations directory: " + "; ".join(parts), observed, expected)
    return passed(f"{len(names)} entries, all migrations", observed, expected)


def objects_exist(expected: Mapping[str, Sequence[str]], actual: Mapping[str, Sequence[str]]) -> Verdict:
    """MIG-4: every expected table exists with every expected column."""
    missing_tables = sorted(t for t in expected if t not in actual)
    missing_columns = {
        table: sorted(set(columns) - set(actual[table]))
        for table, columns in sorted(expected.items())
        if table in actual and set(columns) - set(actual[table])
    }
    observed = {"missing_tables": missing_tables, "missing_columns": missing_columns}
    want = {t: sorted(c) for t, c in sorted(expected.items())}
    if missing_tables or missing_columns:
        parts = []
        if missing_tables:
            parts.append(f"tables {', '.join(missing_tables)}")
        for table, columns in missing_columns.items():
            parts.append(f"{table}({', '.join(columns)})")
        return failed("missing after migration: " + "; ".join(parts), observed, want)
    if not expected:
        return passed("the migrations introduce no tables or columns", observed, want)
    count = sum(len(c) for c in expected.values())
    return passed(f"all {len(expected)} table(s) and {count} column(s) exist", observed, want)


def _table_key(rel: ast.RangeVar | None) -> str | None:
    if rel is None or rel.relname is None:
        return None
    if rel.schemaname and rel.schemaname != "public":
        return f"{rel.schemaname}.{rel.relname}"
    return str(rel.relname)


def introduced_objects(files: Iterable[MigrationFile]) -> dict[str, list[str]]:
    """Tables and columns the forward migrations create (CREATE TABLE, ALTER TABLE ADD COLUMN).

    Applied in version order; a later DROP/RENAME within the same set is taken into account.
    Keys are table names, schema-qualified unless in ``public``. Raises SqlSyntaxError.
    """
    tables: dict[str, list[str]] = {}
    for migration in forward_migrations(files):
        for stmt in statements(migration.sql, migration.path.name):
            _apply(stmt.node, tables)
    return {t: list(c) for t, c in sorted(tables.items())}


def _apply(node: ast.Node, tables: dict[str, list[str]]) -> None:
    AT, OT = enums.AlterTableType, enums.ObjectType
    if isinstance(node, ast.CreateStmt):
        key = _table_key(node.relation)
        if key is not None:
            columns = [str(e.colname) for e in node.tableElts or () if isinstance(e, ast.ColumnDef)]
            if not (node.if_not_exists and key in tables):
                tables[key] = columns
    elif isinstance(node, ast.AlterTableStmt) and node.objtype == OT.OBJECT_TABLE:
        key = _table_key(node.relation)
        if key is None:
            return
        for cmd in node.cmds or ():
            if not isinstance(cmd, ast.AlterTableCmd):
                continue
            if cmd.subtype == AT.AT_AddColumn and isinstance(cmd.def_, ast.ColumnDef):
                columns = tables.setdefault(key, [])
                if cmd.def_.colname not in columns:
                    columns.append(str(cmd.def_.colname))
            elif cmd.subtype == AT.AT_DropColumn and key in tables and cmd.name in tables[key]:
                tables[key].remove(str(cmd.name))
    elif isinstance(node, ast.RenameStmt):
        key = _table_key(node.relation)
        if key is None or key not in tables:
            return
        if node.renameType == OT.OBJECT_TABLE and node.newname:
            schema = key.rpartition(".")[0]
            tables[f"{schema}.{node.newname}" if schema else str(node.newname)] = tables.pop(key)
        elif node.renameType == OT.OBJECT_COLUMN and node.subname in tables[key]:
            columns = tables[key]
            columns[columns.index(str(node.subname))] = str(node.newname)
    elif isinstance(node, ast.DropStmt) and node.removeType == OT.OBJECT_TABLE:
        for obj in node.objects or ():
            parts = [str(p.sval) for p in obj if isinstance(p, ast.String)]
            if len(parts) == 2 and parts[0] == "public":
                parts = parts[1:]
            tables.pop(".".join(parts), None)


__all__ = [
    "AppliedMigration",
    "MigrationStatus",
    "SqlSyntaxError",
    "Status",
    "all_applied",
    "at_version",
    "down_migrations_present",
    "introduced_objects",
    "migrate_info",
    "migration_state",
    "no_failed_rows",
    "no_temporary_files",
    "objects_exist",
    "pending_migrations",
]
