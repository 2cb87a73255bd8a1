"""ClickHouse facts through clickhouse-connect (HTTP): system.columns, parts, replicas, counts."""

from __future__ import annotations

import contextlib
from typing import Any

from nova_gate.backends.base import Source, SourceError
from nova_gate.backends.clickhouse.config import ClickHouse
from nova_gate.backends.clickhouse.facts import PartitionParts


class ClickHouseSource(Source):
    backend = "clickhouse"

    def __init__(self, cfg: ClickHouse) -> None:
        super().__init__()
        from clickhouse_connect.driver.exceptions import ClickHouseError

        self.cfg = cfg
        self.driver_errors = (ClickHouseError, OSError)
        self._client: Any = None

    def _connect(self) -> Any:
        if self._client is None:
            import clickhouse_connect

            from nova_gate.auth import read_secret

            tls = self.cfg.tls
            secure: dict[str, Any] = {}
            if self.cfg.secure or tls is not None:
                secure = {"secure": True, "verify": True}
                if tls is not None and tls.ca_file:
                    secure["ca_cert"] = str(tls.ca_file)
                if tls is not None and tls.cert_file:
                    secure["client_cert"] = str(tls.cert_file)
                    secure["client_cert_key"] = str(tls.key_file)
                if tls is not None and tls.server_name:
                    secure["server_host_name"] = tls.server_name
            with self.call(f"connect {self.cfg.host}:{self.cfg.port}"):
                self._client = clickhouse_connect.get_client(
                    host=self.cfg.host,
                    port=self.cfg.port,
                    username=self.cfg.user,
                    password=read_secret(self.cfg.password, self.cfg.password_file) or "",
                    **secure,
                    database=self.cfg.database,
                    connect_timeout=self.cfg.timeout_s,
                    send_receive_timeout=self.cfg.timeout_s,
                    query_retries=0,
                )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):  # closing never fails a check
                self._client.close()
            self._client = None

    def query(
        self, sql: str, parameters: dict[str, Any] | None = None, what: str | None = None
    ) -> list[tuple[Any, ...]]:
        client = self._connect()
        with self.call(what or sql.split()[0].lower()):
            result = client.query(sql, parameters=parameters or {})
        return [tuple(row) for row in result.result_rows]

    # -- facts --------------------------------------------------------------------------------
    def columns(self, tables: list[str]) -> dict[str, dict[str, str]]:
        """{table: {column: type}} of the configured database; absent tables are left out."""
        rows = self.query(
            "SELECT table, name, type FROM system.columns WHERE database = {db:String}"
            " AND has({tables:Array(String)}, table) ORDER BY table, position",
            {"db": self.cfg.database, "tables": tables},
            what="select system.columns",
        )
        out: dict[str, dict[str, str]] = {}
        for table, name, type_ in rows:
            out.setdefault(str(table), {})[str(name)] = str(type_)
        return out

    def detached_parts(self) -> list[dict[str, Any]]:
        rows = self.query(
            "SELECT table, name, reason FROM system.detached_parts WHERE database = {db:String}",
            {"db": self.cfg.database},
            what="select system.detached_parts",
        )
        return [{"table": t, "part": n, "reason": r or ""} for t, n, r in rows]

    def has_system_table(self, name: str) -> bool:
        rows = self.query(
            "SELECT count() FROM system.tables WHERE database = 'system' AND name = {n:String}",
            {"n": name},
            what=f"system.{name} present",
        )
        return bool(rows and int(rows[0][0]))

    def replicas(self) -> list[dict[str, Any]] | None:
        """Replicated tables of the database (None when the server has no system.replicas)."""
        if not self.has_system_table("replicas"):
            return None
        rows = self.query(
            "SELECT table, is_readonly, is_session_expired, absolute_delay, queue_size"
            " FROM system.replicas WHERE database = {db:String}",
            {"db": self.cfg.database},
            what="select system.replicas",
        )
        return [
            {
                "table": r[0],
                "is_readonly": bool(r[1]),
                "is_session_expired": bool(r[2]),
                "absolute_delay": int(r[3]),
                "queue_size": int(r[4]),
            }
            for r in rows
        ]

    def parts_per_partition(self) -> list[PartitionParts]:
        rows = self.query(
            "SELECT table, partition_id, count() FROM system.parts WHERE database = {db:String} AND active"
            " GROUP BY table, partition_id ORDER BY count() DESC",
            {"db": self.cfg.database},
            what="select system.parts",
        )
        return [PartitionParts(str(t), str(p), int(n)) for t, p, n in rows]

    def count(self, table: str) -> int:
        if not table.replace("_", "").isalnum():
            raise SourceError(self.backend, f"count {table}", "not a plain table name")
        rows = self.query(f"SELECT count() FROM {self.cfg.database}.{table}", what=f"count {table}")
        return int(rows[0][0]) if rows else 0
