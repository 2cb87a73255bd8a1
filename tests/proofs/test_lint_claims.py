"""The migration lint's reason to differ from Squawk and strong_migrations, on the real PostgreSQL.

sqlx sends a migration file as one simple query; PostgreSQL runs a multi-statement query as an
implicit transaction block, so ``CREATE INDEX CONCURRENTLY`` there fails even after an explicit
``COMMIT`` — which is why nova-gate flags the sources' "good" examples that share a file
(README, lint corpus). The table does not exist, so nothing can be created; the statement
fails either on the transaction block (the claim) or, alone, on the missing table.
"""

from __future__ import annotations

import psycopg
import pytest

from nova_gate.backends.postgres.sql_lint import lint_sql
from nova_gate.config import load_environment

INDEX = "CREATE INDEX CONCURRENTLY nova_gate_probe_idx ON nova_gate_no_such_table (x)"


@pytest.mark.parametrize(
    ("sql", "rejected_as_in_transaction"),
    [
        (f"-- no-transaction\nSELECT 1; {INDEX}", True),
        (f"-- no-transaction\nBEGIN; COMMIT; {INDEX}", True),
        (f"-- no-transaction\n{INDEX}", False),
    ],
)
def test_concurrently_in_a_multi_statement_file_fails_on_postgres(sql: str, rejected_as_in_transaction: bool) -> None:
    cfg = load_environment("sandbox").env.backends.postgres_staging
    assert cfg is not None and cfg.password is not None
    flagged = any(f.rule == "concurrently-in-transaction" for f in lint_sql(sql, "m.sql"))
    assert flagged == rejected_as_in_transaction
    with psycopg.connect(cfg.dsn(), autocommit=True) as conn:  # the environment's TLS and credentials
        conn.execute("SET default_transaction_read_only = off")  # the probe role's default; nothing is created
        expected = psycopg.errors.ActiveSqlTransaction if rejected_as_in_transaction else psycopg.errors.UndefinedTable
        with pytest.raises(expected):
            conn.execute(sql.encode())
