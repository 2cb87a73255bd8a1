"""Migration-state rules: ``sqlx migrate info`` equivalence and the verdicts built on it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from nova_gate.backends.postgres.facts import MigrationFile, MigrationKind
from nova_gate.backends.postgres.migration_files import checksum
from nova_gate.backends.postgres.migrations import (
    AppliedMigration,
    MigrationStatus,
    SqlSyntaxError,
    Status,
    all_applied,
    at_version,
    down_migrations_present,
    introduced_objects,
    migrate_info,
    migration_state,
    no_failed_rows,
    no_temporary_files,
    objects_exist,
    pending_migrations,
)
from nova_gate.verdict import Label

WHEN = datetime(2025, 1, 1, tzinfo=UTC)


def mf(
    version: int,
    sql: str = "SELECT 1;",
    *,
    kind: MigrationKind = MigrationKind.SIMPLE,
    has_down: bool = False,
    description: str | None = None,
) -> MigrationFile:
    desc = description if description is not None else f"m{version}"
    suffix = kind.suffix
    path = Path("/migrations") / f"{version}_{desc.replace(' ', '_')}{suffix}"
    down = path.with_name(f"{version}_{desc.replace(' ', '_')}.down.sql") if has_down else None
    return MigrationFile(version, desc, kind, path, sql, checksum(sql), has_down, down)


def row(file: MigrationFile | int, *, success: bool = True, sql: str | None = None) -> AppliedMigration:
    if isinstance(file, int):
        return AppliedMigration(file, f"m{file}", WHEN, success, checksum(sql or "gone"), 1000)
    digest = checksum(sql) if sql is not None else file.checksum
    return AppliedMigration(file.version, file.description, WHEN, success, digest, 1000)


def statuses(info: tuple[MigrationStatus, ...]) -> list[tuple[int, str]]:
    return [(i.version, str(i.status)) for i in info]


# ------------------------------------------------------------------ migrate info


def test_info_all_states() -> None:
    files = [mf(1), mf(2), mf(3), mf(4), mf(6)]
    applied = [row(files[0]), row(files[1], sql="changed"), row(files[2], success=False), row(5)]
    assert statuses(migrate_info(files, applied)) == [
        (1, "applied"),
        (2, "checksum mismatch"),
        (3, "failed"),
        (4, "pending"),
        (5, "applied but missing on disk"),
        (6, "pending"),
    ]


def test_info_nothing_applied_is_all_pending() -> None:
    files = [mf(1), mf(2)]
    assert statuses(migrate_info(files, [])) == [(1, "pending"), (2, "pending")]


def test_info_ignores_down_files_like_sqlx() -> None:
    up = mf(1, kind=MigrationKind.UP, has_down=True)
    down = mf(1, "DROP TABLE t;", kind=MigrationKind.DOWN, has_down=True)
    info = migrate_info([down, up], [row(up)])
    assert statuses(info) == [(1, "applied")]


def test_info_failed_wins_over_checksum_and_missing() -> None:
    file = mf(1)
    assert statuses(migrate_info([file], [row(file, success=False, sql="other")])) == [(1, "failed")]
    assert statuses(migrate_info([], [row(7, success=False)])) == [(7, "failed")]


def test_info_uses_file_description_and_keeps_checksums() -> None:
    file = mf(1, description="create users")
    (item,) = migrate_info([file], [row(file, sql="x")])
    assert item.description == "create users"
    assert item.local_checksum == file.checksum and item.applied_checksum == checksum("x")
    assert item.as_dict()["local_checksum"] == file.checksum.hex()


def test_info_description_of_missing_comes_from_the_row() -> None:
    (item,) = migrate_info([], [AppliedMigration(9, "dropped later", WHEN, True, b"x", 1)])
    assert (item.status, item.description) == (Status.MISSING, "dropped later")


# ------------------------------------------------------------------ state verdicts


def test_migration_state_pass_lists_pending() -> None:
    files = [mf(1), mf(2), mf(3)]
    verdict = migration_state(files, [row(files[0])])
    assert verdict.label is Label.PASS
    assert verdict.observed["pending"] == [2, 3]
    assert "pending: 2, 3" in verdict.reason


@pytest.mark.parametrize(
    ("applied", "needle"),
    [
        ([row(1)], "applied but missing on disk: 1"),
        ([AppliedMigration(2, "m2", WHEN, False, b"", 0)], "failed: 2"),
        ([AppliedMigration(2, "m2", WHEN, True, b"other", 0)], "checksum mismatch: 2"),
    ],
)
def test_migration_state_fails(applied: list[AppliedMigration], needle: str) -> None:
    verdict = migration_state([mf(2)], applied)
    assert verdict.label is Label.FAIL
    assert needle in verdict.reason
    assert verdict.expected


def test_all_applied() -> None:
    files = [mf(1), mf(2)]
    assert all_applied(files, [row(f) for f in files]).label is Label.PASS
    pending = all_applied(files, [row(files[0])])
    assert pending.label is Label.FAIL and "pending: 2" in pending.reason
    assert all_applied(files, [row(files[0]), row(files[1], sql="x")]).label is Label.FAIL
    assert all_applied(files, [row(f) for f in files] + [row(3)]).label is Label.FAIL
    assert all_applied([], []).label is Label.FAIL


def test_pending_migrations() -> None:
    up, down = MigrationKind.UP, MigrationKind.DOWN
    files = [mf(1), mf(2, kind=up, has_down=True), mf(2, kind=down, has_down=True)]
    assert [(f.version, f.kind) for f in pending_migrations(files, [row(files[0])])] == [(2, up)]


def test_down_migrations_present() -> None:
    reversible = mf(5, kind=MigrationKind.UP, has_down=True)
    simple = mf(6)
    assert down_migrations_present([]).label is Label.PASS
    assert down_migrations_present([reversible]).label is Label.PASS
    missing = down_migrations_present([reversible, simple])
    assert missing.label is Label.FAIL
    assert "6_m6.sql" in missing.reason
    assert missing.observed["missing_down"] == [6]
    waived = down_migrations_present([reversible, simple], waivers=[6])
    assert waived.label is Label.PASS
    assert waived.observed["waived"] == [6]
    assert down_migrations_present([simple], waivers=[7]).label is Label.FAIL


def test_no_failed_rows() -> None:
    assert no_failed_rows([row(1), row(2)]).label is Label.PASS
    verdict = no_failed_rows([row(1), row(2, success=False)])
    assert verdict.label is Label.FAIL
    assert verdict.observed["failed"] == [{"version": 2, "description": "m2"}]


@pytest.mark.parametrize(
    ("versions", "target", "label"),
    [
        ([1, 2, 3], 3, Label.PASS),
        ([1, 2, 3], 2, Label.FAIL),
        ([1, 2], 3, Label.FAIL),
        ([], 0, Label.PASS),
        ([1], 0, Label.FAIL),
    ],
)
def test_at_version(versions: list[int], target: int, label: Label) -> None:
    verdict = at_version([row(v) for v in versions], target)
    assert verdict.label is label
    assert verdict.expected == {"version": target}


def test_at_version_with_failed_row() -> None:
    assert at_version([row(1), row(2, success=False)], 1).label is Label.FAIL


# ------------------------------------------------------------------ directory hygiene


def test_no_temporary_files() -> None:
    clean = ["1_a.up.sql", "1_a.down.sql", "2_b.sql", ".gitkeep"]
    assert no_temporary_files(clean).label is Label.PASS
    junk = ["2_b.sql.bak", "2_b.sql~", ".2_b.sql.swp", "x.tmp", "2_b.sql.orig", "#2_b.sql#"]
    dirty = [*clean, *junk, "README.md"]
    verdict = no_temporary_files(dirty)
    assert verdict.label is Label.FAIL
    assert verdict.observed["temporary"] == sorted(junk)
    assert verdict.observed["stray"] == ["README.md"]
    assert no_temporary_files(["README.md"], allowed={"README.md"}).label is Label.PASS
    assert no_temporary_files(["notes_1.sql"]).observed["stray"] == ["notes_1.sql"]


# ------------------------------------------------------------------ objects


def test_introduced_objects() -> None:
    files = [
        mf(
            1,
            "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, CONSTRAINT u UNIQUE (email));\n"
            "-- CREATE TABLE ghosts (id int);\n"
            "CREATE TABLE billing.invoices (id int, total numeric);\n"
            "CREATE TABLE public.scratch (id int);\n",
        ),
        mf(2, "ALTER TABLE orders ADD COLUMN tenant_id uuid, ADD COLUMN note text;\n"),
        mf(3, "ALTER TABLE users ADD COLUMN IF NOT EXISTS phone text; ALTER TABLE users DROP COLUMN email;"),
        mf(4, "DROP TABLE scratch; ALTER TABLE orders RENAME COLUMN note TO remark;"),
        mf(5, "DROP TABLE users;", kind=MigrationKind.DOWN),
    ]
    assert introduced_objects(files) == {
        "billing.invoices": ["id", "total"],
        "orders": ["tenant_id", "remark"],
        "users": ["id", "phone"],
    }


def test_introduced_objects_table_rename() -> None:
    files = [mf(1, "CREATE TABLE a (x int);"), mf(2, "ALTER TABLE a RENAME TO b;")]
    assert introduced_objects(files) == {"b": ["x"]}


def test_introduced_objects_syntax_error() -> None:
    with pytest.raises(SqlSyntaxError, match=r"1_m1\.sql:2"):
        introduced_objects([mf(1, "SELECT 1;\nCREATE TABL x ();")])


def test_objects_exist() -> None:
    expected = {"users": ["id", "phone"], "orders": ["tenant_id"]}
    actual = {"users": ["id", "email", "phone"], "orders": ["id", "tenant_id"]}
    assert objects_exist(expected, actual).label is Label.PASS
    assert objects_exist({}, actual).label is Label.PASS
    verdict = objects_exist({**expected, "invoices": ["id"]}, {"users": ["id"], "orders": ["tenant_id"]})
    assert verdict.label is Label.FAIL
    assert verdict.observed == {"missing_tables": ["invoices"], "missing_columns": {"users": ["phone"]}}
    assert "invoices" in verdict.reason and "users(phone)" in verdict.reason
