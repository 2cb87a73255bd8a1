"""Reading a sqlx migrations directory the way sqlx-core's ``resolve_blocking`` does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nova_gate.backends.base import SourceError
from nova_gate.backends.postgres.facts import (
    MigrationFile,
    MigrationKind,
    ParsedName,
    forward_migrations,
    parse_i64,
    parse_name,
)
from nova_gate.backends.postgres.migration_files import (
    MigrationFilesSource,
    checksum,
    list_directory,
    read_migrations,
)

# SHA-384 digests computed independently with coreutils, e.g. `printf 'SELECT 1;\n' | sha384sum`
SHA384 = {
    b"SELECT 1;\n": (
        "24454095d8d7876ca8e842f34296ca645c83e0f7b50f048c99db4b2ff4da659267afc4ef3e994f3d74e18c741165d931"
    ),
    b"SELECT 1;\r\n": (
        "17397e2e60835e677161a3f8f86849089bb0b9ac29484fca0511f769d62d8c2e143ab512c903b43a60a01ad7452c86c6"
    ),
    b"\xef\xbb\xbfSELECT 1;\n": (
        "e1dc993fecc8fbad857af990996744130eae1fb4e83002ad821787bfbb9077a8478c12813b1b253123c5286c14360c16"
    ),
    b"SELECT 1;": ("26e71cc37450b183fb5bb72ec4f644ed27de1b55fad3d4d6cfb0ca0d71f42ca990911d74649814105a190325e15d2092"),
    b"": "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b",
}


def write(directory: Path, name: str, content: bytes | str = "SELECT 1;\n") -> Path:
    path = directory / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


# ------------------------------------------------------------------ checksums


@pytest.mark.parametrize("content", list(SHA384), ids=["lf", "crlf", "bom", "no-newline", "empty"])
def test_checksum_is_sha384_of_the_raw_file(tmp_path: Path, content: bytes) -> None:
    write(tmp_path, "1_x.sql", content)
    (migration,) = read_migrations(tmp_path)
    assert migration.checksum.hex() == SHA384[content]
    assert len(migration.checksum) == 48
    assert migration.sql.encode() == content  # nothing stripped: BOM and CR are kept


def test_crlf_checkout_changes_the_checksum_unless_cr_is_ignored() -> None:
    assert checksum("SELECT 1;\r\n") != checksum("SELECT 1;\n")
    assert checksum("SELECT 1;\r\n", ignored_chars=["\r"]).hex() == SHA384[b"SELECT 1;\n"]


def test_ignored_chars_option_via_directory(tmp_path: Path) -> None:
    write(tmp_path, "1_x.sql", b"SELECT 1;\r\n")
    (migration,) = read_migrations(tmp_path, ignored_chars="\r")
    assert migration.checksum.hex() == SHA384[b"SELECT 1;\n"]
    assert migration.sql == "SELECT 1;\r\n"


def test_down_file_does_not_change_the_up_checksum(tmp_path: Path) -> None:
    write(tmp_path, "1_x.up.sql", b"SELECT 1;\n")
    write(tmp_path, "1_x.down.sql", b"SELECT 1;")
    up, down = read_migrations(tmp_path)
    assert (up.kind, down.kind) == (MigrationKind.UP, MigrationKind.DOWN)
    assert up.checksum.hex() == SHA384[b"SELECT 1;\n"]
    assert down.checksum.hex() == SHA384[b"SELECT 1;"]


# ------------------------------------------------------------------ names


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("20240101120000_create_users.sql", ParsedName(20240101120000, "create users", MigrationKind.SIMPLE)),
        ("1_init.up.sql", ParsedName(1, "init", MigrationKind.UP)),
        ("1_init.down.sql", ParsedName(1, "init", MigrationKind.DOWN)),
        ("0001_add_index.sql", ParsedName(1, "add index", MigrationKind.SIMPLE)),
        ("2_a__b_.sql", ParsedName(2, "a  b ", MigrationKind.SIMPLE)),
        ("1_000_x.sql", ParsedName(1, "000 x", MigrationKind.SIMPLE)),  # split at the first '_'
        ("3_with.dots.sql", ParsedName(3, "with.dots", MigrationKind.SIMPLE)),
        ("4_x.sql.sql", ParsedName(4, "x", MigrationKind.SIMPLE)),  # trim_end_matches repeats
        ("5_x.up.sql.up.sql", ParsedName(5, "x", MigrationKind.UP)),
        ("6_.sql", ParsedName(6, "", MigrationKind.SIMPLE)),
        ("7_.up.sql", ParsedName(7, "", MigrationKind.UP)),
        ("8_up.sql", ParsedName(8, "up", MigrationKind.SIMPLE)),
        ("9_x.UP.sql", ParsedName(9, "x.UP", MigrationKind.SIMPLE)),
        ("10_héllo wörld.sql", ParsedName(10, "héllo wörld", MigrationKind.SIMPLE)),
        ("+11_plus.sql", ParsedName(11, "plus", MigrationKind.SIMPLE)),
        ("-12_negative.sql", ParsedName(-12, "negative", MigrationKind.SIMPLE)),
        ("0_zero.sql", ParsedName(0, "zero", MigrationKind.SIMPLE)),
        ("9223372036854775807_max.sql", ParsedName(2**63 - 1, "max", MigrationKind.SIMPLE)),
    ],
)
def test_parse_name(name: str, expected: ParsedName) -> None:
    assert parse_name(name) == expected


@pytest.mark.parametrize(
    "name",
    ["README.md", "1.sql", "init.sql", "1_x.SQL", "1_x.sql.bak", "1_x.sql~", ".1_x.sql.swp", "1_x.sqlx", "_"],
)
def test_names_sqlx_ignores(name: str) -> None:
    assert parse_name(name) is None


@pytest.mark.parametrize(
    "name",
    [
        "README_notes.sql",
        "_x.sql",
        "v1_x.sql",
        "1 _x.sql",
        " 1_x.sql",
        "١_arabic_digit.sql",
        "9223372036854775808_overflow.sql",
        "+-1_x.sql",
        "-_x.sql",
        ".1_x.sql",
    ],
)
def test_names_sqlx_rejects(name: str) -> None:
    with pytest.raises(ValueError, match="expected integer version prefix"):
        parse_name(name)


@pytest.mark.parametrize(
    ("text", "value"),
    [("0", 0), ("007", 7), ("+5", 5), ("-5", -5), ("", None), ("+", None), ("1_0", None), (" 1", None)],
)
def test_parse_i64_is_rust_parse(text: str, value: int | None) -> None:
    assert parse_i64(text) == value


# ------------------------------------------------------------------ directories


def test_directory_resolution(tmp_path: Path) -> None:
    write(tmp_path, "3_third.sql")
    write(tmp_path, "1_first.up.sql")
    write(tmp_path, "1_first.down.sql")
    write(tmp_path, "2_second.sql")
    write(tmp_path, "README.md", "docs")
    write(tmp_path, "1_first.up.sql.bak")
    write(tmp_path, "notes.sql")
    (tmp_path / "4_a_directory.sql").mkdir()
    files = read_migrations(tmp_path)
    assert [(f.version, f.kind, f.description) for f in files] == [
        (1, MigrationKind.UP, "first"),
        (1, MigrationKind.DOWN, "first"),
        (2, MigrationKind.SIMPLE, "second"),
        (3, MigrationKind.SIMPLE, "third"),
    ]
    up = files[0]
    assert up.has_down and up.down_path == tmp_path / "1_first.down.sql"
    assert files[1].has_down and files[1].down_path == tmp_path / "1_first.down.sql"
    assert not files[2].has_down and files[2].down_path is None
    assert [f.version for f in forward_migrations(files)] == [1, 2, 3]
    assert all(isinstance(f, MigrationFile) for f in files)
    with pytest.raises(AttributeError):
        up.version = 5  # type: ignore[misc]


def test_simple_migration_with_down_file(tmp_path: Path) -> None:
    write(tmp_path, "1_x.sql")
    write(tmp_path, "1_x.down.sql")
    simple, _down = read_migrations(tmp_path)
    assert simple.kind is MigrationKind.SIMPLE and simple.has_down


def test_symlink_to_file_counts(tmp_path: Path) -> None:
    target = write(tmp_path, "elsewhere.txt")
    (tmp_path / "1_linked.sql").symlink_to(target)
    assert [f.description for f in read_migrations(tmp_path)] == ["linked"]


def test_no_transaction_directive(tmp_path: Path) -> None:
    write(tmp_path, "1_a.sql", "-- no-transaction\nCREATE INDEX CONCURRENTLY i ON t (c);\n")
    write(tmp_path, "2_b.sql", "\n-- no-transaction\nSELECT 1;\n")
    write(tmp_path, "3_c.sql", b"\xef\xbb\xbf-- no-transaction\nSELECT 1;\n")
    assert [f.no_transaction for f in read_migrations(tmp_path)] == [True, False, False]


def test_empty_directory(tmp_path: Path) -> None:
    assert read_migrations(tmp_path) == ()


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["1_a.sql", "01_b.sql"], "duplicate migration version 1"),
        (["1_a.sql", "1_b.up.sql"], "duplicate migration version 1"),
        (["1_a.up.sql", "1_a.down.sql", "1_b.down.sql"], "duplicate migration version 1"),
        (["1_a.sql", "2_b.down.sql"], "down migration without an up migration"),
        (["1_a.sql", "README_notes.sql"], "bad migration file name"),
    ],
)
def test_directory_errors(tmp_path: Path, names: list[str], message: str) -> None:
    for name in names:
        write(tmp_path, name)
    with pytest.raises(SourceError, match=message) as info:
        read_migrations(tmp_path)
    assert info.value.backend == "files"
    assert str(info.value).startswith("files: ")


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        read_migrations(tmp_path / "nope")
    write(tmp_path, "plain")
    with pytest.raises(SourceError, match="is not a directory"):
        read_migrations(tmp_path / "plain")


def test_invalid_utf8_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "1_x.sql", b"SELECT '\xff';\n")
    with pytest.raises(SourceError, match="not valid UTF-8"):
        read_migrations(tmp_path)


def test_invalid_utf8_in_ignored_file_is_fine(tmp_path: Path) -> None:
    write(tmp_path, "notes.txt", b"\xff")
    assert read_migrations(tmp_path) == ()


def test_broken_symlink_is_an_error_like_sqlx(tmp_path: Path) -> None:
    (tmp_path / ".#1_x.sql").symlink_to(tmp_path / "gone")  # an Emacs lock file
    with pytest.raises(SourceError, match="cannot stat"):
        read_migrations(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads everything")
def test_unreadable_file(tmp_path: Path) -> None:
    write(tmp_path, "1_x.sql").chmod(0)
    with pytest.raises(SourceError, match="cannot read"):
        read_migrations(tmp_path)


def test_listing_and_source(tmp_path: Path) -> None:
    write(tmp_path, "1_x.sql")
    write(tmp_path, "b.tmp")
    (tmp_path / "sub").mkdir()
    assert list_directory(tmp_path) == ("1_x.sql", "b.tmp", "sub")
    with MigrationFilesSource(tmp_path) as source:
        assert isinstance(source, MigrationFilesSource)
        assert [f.version for f in source.migrations()] == [1]
        assert source.listing() == ("1_x.sql", "b.tmp", "sub")
        assert source.calls == 2
    with pytest.raises(SourceError, match="cannot list"):
        MigrationFilesSource(tmp_path / "nope").listing()


def test_non_utf8_file_name_is_read_lossily(tmp_path: Path) -> None:
    raw = os.fsencode(tmp_path) + b"/1_caf\xe9.sql"
    with open(raw, "wb") as handle:
        handle.write(b"SELECT 1;\n")
    (migration,) = read_migrations(tmp_path)
    assert migration.description == "caf\ufffd"
    assert migration.sql == "SELECT 1;\n"
