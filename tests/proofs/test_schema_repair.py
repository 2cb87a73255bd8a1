"""``sandbox up`` brings the ``nova`` database back to a known state: its schema is checked against
a scratch database built by the real sqlx-cli from exactly the migrations ``_sqlx_migrations``
records, and rebuilt when they disagree. Proven on a temporary database of the sandbox's server
(the shared ``nova`` database is not touched)."""

from __future__ import annotations

import os

import pytest

from nova_gate.sandbox import postgres as pg


@pytest.fixture
def scratch_db():
    # sandbox up builds sqlx-cli; a missing build is a broken set-up, never a skipped proof
    assert pg.sqlx_bin().exists(), "sqlx-cli not built (nova-gate sandbox up builds it)"
    name = f"nova_i14_repair_{os.getpid()}"
    pg._sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", dbname="postgres")
    pg._sql(f"CREATE DATABASE {name} OWNER {pg.OWNER_ROLE}", dbname="postgres")
    try:
        yield name
    finally:
        pg._sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", dbname="postgres")


def test_a_release_column_without_its_row_is_found_and_repaired(scratch_db):
    pg._sqlx("run", "--target-version", str(pg.BASELINE_MIGRATION), dbname=scratch_db)
    assert pg.verify_schema(scratch_db) == []
    release = [(v, p) for v, p in pg._migration_files() if v > pg.BASELINE_MIGRATION]
    assert release, "the sandbox release has migrations after the baseline"
    _version, path = release[0]
    with pg._connect(dbname=scratch_db) as conn:  # what was seen: the schema change, no row
        conn.execute(path.read_text())
    problems = pg.verify_schema(scratch_db)
    assert problems and all("not in the recorded migrations" in p or "missing" in p for p in problems), problems
    assert pg.repair_schema(scratch_db, pg.BASELINE_MIGRATION) == problems
    assert pg.verify_schema(scratch_db) == []
    assert pg.recorded_migrations(scratch_db)[0][-1] == pg.BASELINE_MIGRATION
    # and then the release applies again, as the rehearsal's migrations phase does
    pg._sqlx("run", dbname=scratch_db)
    assert pg.verify_schema(scratch_db) == []


def test_failed_rows_and_drifted_checksums_are_found(scratch_db):
    pg._sqlx("run", "--target-version", str(pg.BASELINE_MIGRATION), dbname=scratch_db)
    pg._sql(
        "UPDATE _sqlx_migrations SET checksum = '\\x00'::bytea"
        " WHERE version = (SELECT max(version) FROM _sqlx_migrations)",
        dbname=scratch_db,
    )
    assert any("checksum differs" in p for p in pg.verify_schema(scratch_db))
    pg.repair_schema(scratch_db, pg.BASELINE_MIGRATION)
    pg._sql(
        "UPDATE _sqlx_migrations SET success = false WHERE version = (SELECT max(version) FROM _sqlx_migrations)",
        dbname=scratch_db,
    )
    assert any("recorded as failed" in p for p in pg.verify_schema(scratch_db))


def test_the_shared_nova_database_matches_its_recorded_migrations():
    # sandbox up builds sqlx-cli; a missing build is a broken set-up, never a skipped proof
    assert pg.sqlx_bin().exists(), "sqlx-cli not built (nova-gate sandbox up builds it)"
    assert pg.verify_schema(pg.DBNAME) == []
