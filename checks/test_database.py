"""PostgreSQL and migration checks (preflight database section, predeploy, migrations, T+24h)."""

from __future__ import annotations

import datetime as dt

import pytest

from nova_gate.backends.postgres import migrations, sql_lint
from nova_gate.backends.postgres import rules as pg_rules
from nova_gate.backends.postgres.facts import forward_migrations
from nova_gate.backends.postgres.migration_files import read_migrations


@pytest.fixture(scope="module")
def migration_files(env):
    if env.release.migrations_dir is None:
        from nova_gate.backends.base import SourceError

        raise SourceError("files", "release.migrations_dir not configured")
    return read_migrations(env.release.migrations_dir)


@pytest.mark.item("PRE-DB-1")
def test_pending_migrations_are_backward_compatible(postgres, migration_files, gate):
    pending = migrations.pending_migrations(migration_files, postgres.applied_migrations())
    gate.evidence(source="files+postgres", pending=[f.name for f in pending])
    gate.judge(sql_lint.lint_verdict(sql_lint.lint_migrations(pending), what="pending migrations"))


@pytest.mark.item("MIG-2")
def test_migration_sql_dry_run(migration_files, env, gate):
    baseline = env.release.rollback_target_version or 0
    forward = [f for f in forward_migrations(migration_files) if f.version > baseline]
    gate.evidence(source="files", baseline_migration=baseline, files=[f.name for f in forward])
    gate.judge(sql_lint.lint_verdict(sql_lint.lint_migrations(forward), what="release migrations"))


@pytest.mark.item("PRE-DB-2")
def test_migrations_tested_in_staging(staging_postgres, migration_files, gate):
    applied = staging_postgres.applied_migrations()
    gate.evidence(source="postgres", query="SELECT ... FROM _sqlx_migrations", applied=len(applied))
    gate.judge(migrations.all_applied(migration_files, applied))


@pytest.mark.item("PRE-DB-3")
def test_rollback_plan_for_pending_migrations(postgres, migration_files, gate):
    pending = migrations.pending_migrations(migration_files, postgres.applied_migrations())
    gate.evidence(source="files", pending=[f.name for f in pending])
    gate.judge(migrations.down_migrations_present(pending))


@pytest.mark.item("PRE-DB-4")
def test_backup_completed(postgres, env, gate):
    catalog = env.backends.postgres.backup_catalog
    facts = postgres.backup_catalog(catalog) if catalog else postgres.archiver()
    gate.evidence(source=facts.source, last_success=facts.last_success, detail=facts.detail)
    gate.judge(
        pg_rules.backup_fresh(
            facts.last_success,
            facts.source,
            dt.timedelta(hours=env.thresholds.backup_max_age_h),
            dt.datetime.now(dt.UTC),
        )
    )


@pytest.mark.item("PRE-DB-5", "MIG-1")
def test_migrate_info(postgres, migration_files, gate):
    applied = postgres.applied_migrations()
    info = migrations.migrate_info(migration_files, applied)
    gate.evidence(source="postgres+files", migrate_info=[s.as_dict() for s in info])
    gate.judge(migrations.migration_state(migration_files, applied))


@pytest.mark.item("MIG-3")
def test_every_migration_applied(postgres, migration_files, gate):
    gate.judge(migrations.all_applied(migration_files, postgres.applied_migrations()))


@pytest.mark.item("MIG-4")
def test_new_tables_and_columns_exist(postgres, migration_files, gate):
    expected = migrations.introduced_objects(forward_migrations(migration_files))
    actual = postgres.columns(list(expected))
    gate.evidence(source="postgres", query="information_schema.columns", expected=expected, actual=actual)
    gate.judge(migrations.objects_exist(expected, actual))


@pytest.mark.item("MIG-5")
def test_no_failed_migration(postgres, gate):
    gate.judge(migrations.no_failed_rows(postgres.applied_migrations()))


@pytest.mark.item("RBK-3")
def test_migrations_at_rollback_target(postgres, env, gate):
    target = env.release.rollback_target_version
    if target is None:
        from nova_gate.verdict import inconclusive

        gate.judge(inconclusive("release.rollback_target_version not set; cannot tell the rollback target"))
        return
    gate.judge(migrations.at_version(postgres.applied_migrations(), target))


@pytest.mark.item("PD-4")
def test_replicas_in_sync(postgres, env, gate):
    replicas = postgres.replicas()
    gate.judge(pg_rules.replicas_in_sync(replicas, len(env.backends.postgres.replicas), env.thresholds.replica_lag_s))


@pytest.mark.item("PD-5")
def test_no_long_running_queries(postgres, env, gate):
    limit = env.thresholds.long_query_s
    gate.evidence(source="postgres", query="pg_stat_activity client backends", limit_s=limit)
    gate.judge(pg_rules.no_long_queries(postgres.long_running_queries(limit), limit))


@pytest.mark.item("PRE-INF-2")
def test_connection_pools_fit(postgres, env, gate):
    limits = postgres.connection_limits()
    # planned replicas during the release: the baseline's plus the new version's at 100%
    pools = {s.name: (2 * s.replicas, s.pool_size) for s in env.release.services}
    gate.evidence(source="postgres+config", limits=limits, pools=pools)
    gate.judge(
        pg_rules.pool_fits(
            pools, limits["max_connections"], limits["superuser_reserved"] + env.thresholds.connection_reserve
        )
    )


@pytest.mark.item("MON-6")
def test_connections_below_limits(postgres, env, gate):
    limits = postgres.connection_limits()
    gate.evidence(source="postgres", limits=limits, by_application=postgres.connections_by_application())
    gate.judge(
        pg_rules.connections_below(
            limits["in_use"],
            limits["max_connections"],
            limits["superuser_reserved"],
            env.thresholds.connections_pct,
        )
    )


@pytest.mark.item("P24-4")
def test_slow_statements(postgres, env, gate):
    gate.judge(pg_rules.slow_statements_below(postgres.slow_statements(), env.thresholds.slow_statement_ms))


@pytest.mark.item("PST-7")
def test_users_table_answers(postgres, gate):
    gate.judge(pg_rules.rows_present("users", postgres.count("users")))
