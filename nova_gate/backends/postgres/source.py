"""PostgreSQL facts through read-only sessions: migrations table, replicas, activity, limits.

Every session is opened with ``default_transaction_read_only=on`` and a statement timeout, so a
probe can neither write nor hang; the connection string (it holds the password) is never logged.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nova_gate.backends.base import Source, SourceError
from nova_gate.backends.postgres.config import Postgres
from nova_gate.backends.postgres.facts import ActiveQuery, AppliedMigration, BackupFacts, ReplicaFacts


class PostgresSource(Source):
    backend = "postgres"

    def __init__(self, cfg: Postgres) -> None:
        super().__init__()
        import psycopg

        self.cfg = cfg
        self.driver_errors = (psycopg.Error, OSError)
        self._conns: dict[tuple[str, int], Any] = {}

    # -- connections --------------------------------------------------------------------------
    def _connect(self, host: str, port: int) -> Any:
        import psycopg

        key = (host, port)
        conn = self._conns.get(key)
        if conn is not None and not conn.closed:
            return conn
        options = (
            f"-c default_transaction_read_only=on -c statement_timeout={self.cfg.statement_timeout_ms}"
            " -c lock_timeout=2000 -c idle_in_transaction_session_timeout=30000"
        )
        with self.call(f"connect {host}:{port}"):
            try:
                dsn = self.cfg.dsn(host, port)
            except OSError as exc:  # an unreadable password_file: its path, never a secret
                raise SourceError(self.backend, f"cannot connect to {host}:{port}", exc) from None
            try:
                conn = psycopg.connect(dsn, options=options, autocommit=True)
            except psycopg.OperationalError as exc:
                # libpq messages can echo the conninfo; keep only the first line, never the DSN.
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise SourceError(self.backend, f"cannot connect to {host}:{port}", first) from None
        conn.read_only = True
        self._conns[key] = conn
        return conn

    def query(
        self,
        sql: str,
        params: tuple[Any, ...] = (),
        *,
        host: str | None = None,
        port: int | None = None,
        what: str | None = None,
    ) -> list[dict[str, Any]]:
        """Run one read-only query and return rows as dicts."""
        from psycopg.rows import dict_row

        conn = self._connect(host or self.cfg.host, port or self.cfg.port)
        with self.call(what or sql.split()[0].lower()), conn.cursor(row_factory=dict_row) as cur:
            cur.execute(sql, params)  # type: ignore[arg-type,unused-ignore]
            return list(cur.fetchall())

    def close(self) -> None:
        for conn in self._conns.values():
            with contextlib.suppress(Exception):
                conn.close()
        self._conns.clear()

    # -- facts --------------------------------------------------------------------------------
    def session_is_read_only(self) -> bool:
        rows = self.query("SHOW default_transaction_read_only")
        return bool(rows and rows[0]["default_transaction_read_only"] == "on")

    def applied_migrations(self) -> list[AppliedMigration]:
        exists = self.query("SELECT to_regclass('public._sqlx_migrations') IS NOT NULL AS present")
        if not exists or not exists[0]["present"]:
            raise SourceError(self.backend, "table _sqlx_migrations does not exist (no migration ever ran)")
        rows = self.query(
            "SELECT version, description, installed_on, success, checksum, execution_time "
            "FROM _sqlx_migrations ORDER BY version",
            what="select _sqlx_migrations",
        )
        return [
            AppliedMigration(
                version=int(r["version"]),
                description=r["description"],
                installed_on=r["installed_on"],
                success=bool(r["success"]),
                checksum=bytes(r["checksum"]),
                execution_time=int(r["execution_time"]),
            )
            for r in rows
        ]

    def columns(self, tables: list[str]) -> dict[str, list[str]]:
        rows = self.query(
            "SELECT CASE WHEN table_schema = 'public' THEN table_name "
            "ELSE table_schema || '.' || table_name END AS t, column_name "
            "FROM information_schema.columns WHERE table_schema NOT IN ('pg_catalog','information_schema') "
            "ORDER BY 1, ordinal_position",
            what="select information_schema.columns",
        )
        out: dict[str, list[str]] = {}
        for r in rows:
            if r["t"] in tables:
                out.setdefault(r["t"], []).append(r["column_name"])
        return out

    def replicas(self) -> list[ReplicaFacts]:
        primary_lsn = self.query("SELECT pg_current_wal_lsn()::text AS lsn")[0]["lsn"]
        senders = {
            r["application_name"]: r
            for r in self.query(
                "SELECT application_name, state, replay_lsn::text AS replay_lsn, "
                "EXTRACT(EPOCH FROM replay_lag)::float8 AS replay_lag_s FROM pg_stat_replication",
                what="select pg_stat_replication",
            )
        }
        out = []
        for replica in self.cfg.replicas:
            try:
                row = self.query(
                    "SELECT pg_is_in_recovery() AS rec, pg_last_wal_receive_lsn()::text AS recv, "
                    "pg_last_wal_replay_lsn()::text AS replay, pg_is_wal_replay_paused() AS paused, "
                    "pg_last_xact_replay_timestamp() AS ts, "
                    "pg_wal_lsn_diff(%s::pg_lsn, pg_last_wal_replay_lsn())::bigint AS lag_bytes, "
                    "(SELECT status FROM pg_stat_wal_receiver) AS receiver",
                    (primary_lsn,),
                    host=replica.host,
                    port=replica.port,
                    what=f"replica {replica.name}",
                )[0]
            except SourceError as exc:
                out.append(ReplicaFacts(replica.name, reachable=False, error=str(exc)))
                continue
            sender = _sender_of(replica.name, row["replay"], senders, len(self.cfg.replicas))
            out.append(
                ReplicaFacts(
                    name=replica.name,
                    reachable=True,
                    in_recovery=row["rec"],
                    receive_lsn=row["recv"],
                    replay_lsn=row["replay"],
                    replay_paused=row["paused"],
                    replay_timestamp=row["ts"],
                    # NULL when the replica has no replay position: unknown, never "caught up"
                    lag_bytes=None if row["lag_bytes"] is None else max(int(row["lag_bytes"]), 0),
                    lag_s=sender["replay_lag_s"] if sender else None,
                    streaming=row["receiver"] == "streaming",
                )
            )
        return out

    def long_running_queries(self, min_seconds: float) -> list[ActiveQuery]:
        rows = self.query(
            "SELECT pid, usename, application_name, state, "
            "EXTRACT(EPOCH FROM now() - query_start)::float8 AS seconds, left(query, 200) AS query "
            "FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() "
            "AND state IS DISTINCT FROM 'idle' AND query_start < now() - make_interval(secs => %s) "
            "ORDER BY seconds DESC",
            (min_seconds,),
            what="select pg_stat_activity",
        )
        return [
            ActiveQuery(r["pid"], r["usename"], r["application_name"], r["state"], r["seconds"], r["query"])
            for r in rows
        ]

    def connection_limits(self) -> dict[str, int]:
        row = self.query(
            "SELECT current_setting('max_connections')::int AS max_connections, "
            "current_setting('superuser_reserved_connections')::int AS superuser_reserved, "
            "(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int AS in_use",
            what="select connection limits",
        )[0]
        return dict(row)

    def connections_by_application(self) -> dict[str, int]:
        rows = self.query(
            "SELECT coalesce(nullif(application_name, ''), usename, '?') AS app, count(*)::int AS n "
            "FROM pg_stat_activity WHERE backend_type = 'client backend' GROUP BY 1",
            what="select pg_stat_activity by application",
        )
        return {r["app"]: r["n"] for r in rows}

    def archiver(self) -> BackupFacts:
        row = self.query(
            "SELECT archived_count, last_archived_time, failed_count, last_failed_time FROM pg_stat_archiver",
            what="select pg_stat_archiver",
        )[0]
        return BackupFacts("pg_stat_archiver", row["last_archived_time"], dict(row))

    def backup_catalog(self, path: Path) -> BackupFacts:
        """The newest successful backup of a pgBackRest ``info --output=json`` file."""
        with self.call(f"read backup catalog {path.name}"):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise SourceError("backup catalog", f"{path} does not exist") from None
            except ValueError as exc:
                raise SourceError("backup catalog", f"{path} is not valid JSON", exc) from exc
        stops = []
        for stanza in data if isinstance(data, list) else []:
            for backup in stanza.get("backup", []):
                stop = backup.get("timestamp", {}).get("stop")
                if not backup.get("error") and isinstance(stop, int | float):
                    stops.append(dt.datetime.fromtimestamp(stop, dt.UTC))
        return BackupFacts(f"pgBackRest catalog {path.name}", max(stops) if stops else None, {"backups": len(stops)})

    def count(self, table: str) -> int:
        from psycopg import sql

        conn = self._connect(self.cfg.host, self.cfg.port)
        with self.call(f"count {table}"), conn.cursor() as cur:
            cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
            row = cur.fetchone()
        return int(row[0]) if row else 0

    def slow_statements(self, limit: int = 10) -> list[dict[str, Any]]:
        present = self.query("SELECT count(*)::int AS n FROM pg_extension WHERE extname = 'pg_stat_statements'")
        if not present[0]["n"]:
            raise SourceError(self.backend, "pg_stat_statements extension is not installed")
        return self.query(
            "SELECT left(query, 200) AS query, calls, mean_exec_time::float8 AS mean_ms, "
            "max_exec_time::float8 AS max_ms FROM pg_stat_statements "
            "WHERE calls > 0 ORDER BY mean_exec_time DESC LIMIT %s",
            (limit,),
            what="select pg_stat_statements",
        )


def _sender_of(
    name: str, replay_lsn: str | None, senders: Mapping[str, Mapping[str, Any]], replicas: int
) -> Mapping[str, Any] | None:
    """The primary's WAL sender (pg_stat_replication row) that serves this replica.

    By ``application_name`` when it is the replica's configured name, else by an equal replay
    position, else the only sender when exactly one replica is configured: on a busy primary the
    replay positions seen from both sides differ by the time between the two queries, and a
    missed match would leave the time lag unknown (a false FAIL).
    """
    if name in senders:
        return senders[name]
    same = next((s for s in senders.values() if replay_lsn is not None and s["replay_lsn"] == replay_lsn), None)
    if same is not None:
        return same
    if replicas == 1 and len(senders) == 1:
        return next(iter(senders.values()))
    return None
