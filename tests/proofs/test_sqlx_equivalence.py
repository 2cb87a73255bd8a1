"""The migration report equals the real sqlx-cli's ``migrate info`` on the sandbox database.

Applied, pending and checksum-mismatch cases. sqlx-cli is built by the sandbox's install step
(cargo, cached in ~/.cache/nova-gate), so this never skips.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from nova_gate.backends.postgres.migration_files import read_migrations
from nova_gate.backends.postgres.migrations import Status, migrate_info
from nova_gate.backends.postgres.source import PostgresSource
from nova_gate.config import load_environment
from nova_gate.sandbox import manager, postgres

LINE = re.compile(r"^(\d+)/(\w+)(?: \(([^)]*)\))? (.*)$")
SQLX_STATUS = {
    ("installed", None): Status.APPLIED,
    ("pending", None): Status.PENDING,
    ("installed", "different checksum"): Status.CHECKSUM_MISMATCH,
}


def sqlx_info(directory: str) -> dict[int, tuple[Status, str]]:
    out = subprocess.run(
        [
            str(postgres.sqlx_bin()),
            "migrate",
            "info",
            "--source",
            directory,
            "--database-url",
            postgres._owner_url(),
            "--no-dotenv",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    found: dict[int, tuple[Status, str]] = {}
    last = 0
    for line in out.splitlines():
        detail = re.match(r"^(applied|local) migration ha[ds] checksum ([0-9a-f]+)$", line.strip())
        if detail:  # sqlx prints both checksums under a mismatching version
            CHECKSUMS[(last, detail.group(1))] = detail.group(2)
            continue
        m = LINE.match(line.strip())
        assert m, f"unexpected sqlx output line: {line!r}"
        last = int(m.group(1))
        found[last] = (SQLX_STATUS[(m.group(2), m.group(3))], m.group(4))
    return found


CHECKSUMS: dict[tuple[int, str], str] = {}


def _info():  # type: ignore[no-untyped-def]
    env = load_environment("sandbox").env
    assert env.release.migrations_dir is not None and env.backends.postgres is not None
    with PostgresSource(env.backends.postgres) as source:
        applied = source.applied_migrations()
    return migrate_info(read_migrations(env.release.migrations_dir), applied)


def ours() -> dict[int, tuple[Status, str]]:
    return {m.version: (m.status, m.description) for m in _info()}


def test_same_report_with_applied_and_pending():
    theirs = sqlx_info(str(load_environment("sandbox").env.release.migrations_dir))
    assert {s for s, _ in theirs.values()} == {Status.APPLIED, Status.PENDING}
    assert ours() == theirs


def test_same_report_with_a_checksum_mismatch():
    manager.fault("pg-checksum-drift")
    try:
        theirs = sqlx_info(str(load_environment("sandbox").env.release.migrations_dir))
        assert Status.CHECKSUM_MISMATCH in {s for s, _ in theirs.values()}
        assert ours() == theirs
        drifted = next(v for v, (s, _) in theirs.items() if s is Status.CHECKSUM_MISMATCH)
        mine = next(m for m in _info() if m.version == drifted)
        assert mine.applied_checksum is not None and mine.local_checksum is not None
        assert CHECKSUMS[(drifted, "applied")] == mine.applied_checksum.hex()
        assert CHECKSUMS[(drifted, "local")] == mine.local_checksum.hex()

    finally:
        manager.fault("pg-checksum-drift", undo=True)


@pytest.fixture
def migrated():
    postgres.apply_release_migrations()
    yield
    postgres.revert_release_migrations()


def test_same_report_when_everything_is_applied(migrated):
    theirs = sqlx_info(str(load_environment("sandbox").env.release.migrations_dir))
    assert {s for s, _ in theirs.values()} == {Status.APPLIED}
    assert ours() == theirs
