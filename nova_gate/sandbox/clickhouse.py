"""ClickHouse for the sandbox: the chdb engine behind a small HTTP server on 58123.

chdb is ClickHouse as a library, so ``chdb_server`` wraps one persistent chdb session (data in
``.sandbox/clickhouse/data``) in enough of ClickHouse's HTTP interface for clickhouse-connect.
On first start it creates database ``nova`` with MergeTree tables ``feed_ranking_events`` and
``content_views`` and inserts rows in several batches (several parts).
"""

from __future__ import annotations

import importlib.util
import json
import os
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from nova_gate.config import project_root
from nova_gate.sandbox import identities, ports
from nova_gate.sandbox.base import Component, Fault, Health, SandboxError, port_open, run, state_dir, wait_for

PROC = "clickhouse"
#: HTTPS with the sandbox CA's certificate (chdb_server --tls-cert); users and passwords enforced
URL = f"https://{ports.HOST}:{ports.CLICKHOUSE_HTTP}"


def _tls() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(state_dir() / "pki" / "ca.crt"))


def _admin_headers() -> dict[str, str]:
    return {"X-ClickHouse-User": identities.CH_ADMIN.user, "X-ClickHouse-Key": identities.CH_ADMIN.password}


def users_doc() -> dict[str, object]:
    """The stand-in's users (as users.xml's password_sha256_hex): the admin, and the gates read-only."""
    return {
        "users": {
            identities.CH_ADMIN.user: {"password_sha256_hex": identities.CH_ADMIN.sha256(), "readonly": 0},
            identities.CH_GATES.user: {"password_sha256_hex": identities.CH_GATES.sha256(), "readonly": 1},
        }
    }
EVENTS = "nova.feed_ranking_events"

SCHEMA = (
    "CREATE DATABASE IF NOT EXISTS nova",
    "CREATE TABLE IF NOT EXISTS nova.feed_ranking_events (event_time DateTime, user_id UInt64,"
    " post_id UInt64, score Float64, model_version LowCardinality(String))"
    " ENGINE = MergeTree PARTITION BY toYYYYMM(event_time) ORDER BY (event_time, user_id)",
    "CREATE TABLE IF NOT EXISTS nova.content_views (event_date Date, post_id UInt64, views UInt64)"
    " ENGINE = MergeTree PARTITION BY toYYYYMM(event_date) ORDER BY (event_date, post_id)",
)
#: several batches, so each table has several parts (merges are not forced)
SEED_BATCHES = 4


def sql(statement: str, fmt: str = "TabSeparated", timeout: float = 30) -> str:
    """Run one statement through the HTTP interface and return the text answer."""
    url = f"{URL}/?" + urllib.parse.urlencode({"default_format": fmt})
    req = urllib.request.Request(url, data=statement.encode(), method="POST", headers=_admin_headers())
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=_tls()) as resp:
            return str(resp.read().decode())
    except urllib.error.HTTPError as exc:
        raise SandboxError(f"clickhouse: {exc.read().decode(errors='replace').strip()[:300]}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise SandboxError(f"clickhouse: {exc}") from exc


class ClickHouse(Component):
    name = "clickhouse"

    @property
    def data(self):
        return self.dir / "data"

    def install(self) -> None:
        missing = [m for m in ("chdb", "lz4") if importlib.util.find_spec(m) is None]
        if missing:
            run([sys.executable, "-m", "pip", "install", "-q", "chdb>=2", "lz4"], timeout=1200)

    def start(self) -> None:
        if not (self.pids() and self._ping()):
            if port_open(ports.CLICKHOUSE_HTTP) and not self.pids():
                raise SandboxError(f"clickhouse: port {ports.CLICKHOUSE_HTTP} already in use by another process")
            from nova_gate.sandbox.pki import sandbox_ca

            pair = sandbox_ca(self.root).server("clickhouse")
            users = self.dir / "users.json"
            users.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(users, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump(users_doc(), fh)
            self.spawn(
                PROC,
                [
                    sys.executable,
                    "-m",
                    "nova_gate.sandbox.chdb_server",
                    "--users",
                    str(users),
                    "--tls-cert",
                    str(pair.cert),
                    "--tls-key",
                    str(pair.key),
                    "--data",
                    str(self.data),
                    "--host",
                    ports.HOST,
                    "--port",
                    str(ports.CLICKHOUSE_HTTP),
                ],
                cwd=project_root(),
                env={"PYTHONUNBUFFERED": "1"},
            )
            wait_for(lambda: self._ping() or not self.pids(), "clickhouse (chdb) /ping", timeout=60)
            if not self._ping():
                raise SandboxError(f"clickhouse: did not come up; see {self.logs / (PROC + '.log')}")
        self.seed()

    def stop(self) -> None:
        self.stop_and_wait([ports.CLICKHOUSE_HTTP], timeout=30)

    def seed(self) -> None:
        for statement in SCHEMA:
            sql(statement)
        if int(sql(f"SELECT count() FROM {EVENTS}").strip() or 0) == 0:
            for batch in range(SEED_BATCHES):
                sql(
                    f"INSERT INTO {EVENTS} SELECT now() - INTERVAL ({batch} * 1000 + number) SECOND,"
                    f" number % 97 + 1, number % 1000 + {batch} * 1000, (number % 100) / 100,"
                    f" if(number % 10 = 0, 'v1.0.0', 'v0.9.0') FROM numbers(5000)"
                )
        if int(sql("SELECT count() FROM nova.content_views").strip() or 0) == 0:
            for batch in range(SEED_BATCHES):
                sql(
                    "INSERT INTO nova.content_views SELECT today() - (number % 30), number + "
                    f"{batch} * 500, (number * 37) % 1000 FROM numbers(500)"
                )

    def _ping(self) -> bool:
        try:
            with urllib.request.urlopen(f"{URL}/ping", timeout=2, context=_tls()) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def health(self) -> Health:
        pids = self.pids()
        if not pids:
            return Health(False, URL, [], "not running")
        try:
            rows = sql(f"SELECT count() FROM {EVENTS}", timeout=5).strip()
            parts = sql("SELECT count() FROM system.parts WHERE database = 'nova' AND active", timeout=5).strip()
        except SandboxError as exc:
            return Health(False, URL, pids, str(exc))
        return Health(True, URL, pids, f"chdb; {rows} feed_ranking_events rows, {parts} active parts")

    # -- faults -------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """The nova database's tables and columns, row counts, detached parts. Part names and
        counts are left out (merges and a re-seed renumber them), so are the seed's timestamps."""
        columns = sql(
            "SELECT table, name, type, default_expression FROM system.columns WHERE database = 'nova'"
            " ORDER BY table, position"
        )
        tables = sql("SELECT name FROM system.tables WHERE database = 'nova' ORDER BY name").split()
        return {
            **super().snapshot(),
            "columns": columns.splitlines(),
            "rows": {t: sql(f"SELECT count() FROM nova.{t}").strip() for t in tables},
            "detached": sql(
                "SELECT table, reason FROM system.detached_parts WHERE database = 'nova' ORDER BY 1, 2"
            ).splitlines(),
        }

    def faults(self) -> list[Fault]:
        return [
            Fault(
                name="ch-column-type-changed",
                breaks="nova.feed_ranking_events.score becomes Float32 (code expects Float64)",
                catches=("PRE-CFG-7",),
                inject=lambda: self._score_type("Float32"),
                undo=lambda: self._score_type("Float64"),
                component=self.name,
            ),
            Fault(
                name="ch-detached-part",
                breaks="a part of nova.feed_ranking_events is detached (system.detached_parts has a row)",
                catches=("PRE-INF-5",),
                inject=self._detach_part,
                undo=self._attach_parts,
                component=self.name,
            ),
            Fault(
                name="ch-events-truncated",
                breaks="nova.feed_ranking_events is truncated (0 rows); undo re-seeds it",
                catches=("PST-9",),
                inject=lambda: sql(f"TRUNCATE TABLE {EVENTS}"),
                undo=self.seed,
                component=self.name,
            ),
        ]

    def _score_type(self, type_name: str) -> None:
        sql(f"ALTER TABLE {EVENTS} MODIFY COLUMN score {type_name}")

    @staticmethod
    def _event_parts(system_table: str, condition: str) -> list[str]:
        """The names of nova.feed_ranking_events' parts listed in ``system_table`` that meet ``condition``."""
        return sql(
            f"SELECT name FROM {system_table} WHERE database = 'nova' AND table = 'feed_ranking_events'"
            f" AND {condition} ORDER BY name"
        ).split()

    def _detach_part(self) -> None:
        parts = self._event_parts("system.parts", "active")
        if not parts:
            raise SandboxError("clickhouse: no active part to detach in nova.feed_ranking_events")
        sql(f"ALTER TABLE {EVENTS} DETACH PART '{parts[0]}'")

    def _attach_parts(self) -> None:
        parts = self._event_parts("system.detached_parts", "reason = ''")
        for part in parts:
            sql(f"ALTER TABLE {EVENTS} ATTACH PART '{part}'")
