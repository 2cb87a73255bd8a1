"""PostgreSQL 15: a primary on 55432 with WAL archiving and a streaming replica on 55433.

The schema comes from ``sandbox/release/migrations`` applied with the real sqlx-cli as role
``nova`` up to :data:`BASELINE_MIGRATION` (release v0.9.0); the last two migrations belong to the
release v1.0.0 and stay pending until :func:`apply_release_migrations` runs them.

We run as root, so initdb and the servers run as the unprivileged ``postgres`` OS user (created
by the Debian package) through ``setpriv``, which execs in place: the recorded pid is the
postmaster itself. Servers are stopped with SIGINT (PostgreSQL's "fast" shutdown), never killed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pwd
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from nova_gate.sandbox import ports
from nova_gate.sandbox.base import (
    Component,
    Fault,
    Health,
    SandboxError,
    Stage,
    apt_install,
    build_log,
    cache_dir,
    pid_alive,
    port_open,
    run,
    run_logged,
    sandbox_data_dir,
    signal_and_wait,
    state_dir,
    wait_for,
    wait_port,
    write_json,
)

PG_BIN = Path("/usr/lib/postgresql/15/bin")
OS_USER = "postgres"
SUPERUSER = "postgres"
DBNAME = "nova"
OWNER_ROLE, OWNER_PASSWORD = "nova", "sandbox-owner-secret"
RO_ROLE = "nova_gate_ro"
SMOKE_ROLE, SMOKE_PASSWORD = "nova_smoke", "sandbox-smoke-secret"
REPLICATION_ROLE = "replicator"
#: the last migration of release v0.9.0; everything after it is the pending release v1.0.0
BASELINE_MIGRATION = 20260915103000
#: a version that exists in no migration file (pg-failed-migration)
FAILED_MIGRATION_VERSION = 20261105170000
#: the applied migration whose checksum pg-checksum-drift alters
DRIFT_MIGRATION_VERSION = 20260203110000
SMOKE_TABLES = (
    "users",
    "sessions",
    "conversations",
    "conversation_members",
    "messages",
    "posts",
    "feed_items",
)
LONG_QUERY_APP = "nova-sandbox-long-query"
SERVERS = {"primary": ports.POSTGRES_PRIMARY, "replica": ports.POSTGRES_REPLICA}
#: the role that may log in with a client certificate alone (CN = role); read-only like nova_gate_ro
CERT_ROLE = "nova_gate_cert"
#: TCP only over TLS; the superuser only over the Unix socket (the sandbox's own admin path)
PG_HBA = "\n".join(
    [
        "# written by nova-gate's sandbox at every start (nova_gate/sandbox/postgres.py)",
        "# TYPE    DATABASE     USER            ADDRESS        METHOD",
        "local     all          all                            trust",
        "local     replication  all                            trust",
        f"hostssl   replication  {REPLICATION_ROLE}      127.0.0.1/32   cert",
        "hostssl   all          postgres        127.0.0.1/32   reject",
        f"hostssl   all          {CERT_ROLE}  127.0.0.1/32   cert",
        "hostssl   all          all             127.0.0.1/32   scram-sha-256",
        "hostnossl all          all             0.0.0.0/0      reject",
        "",
    ]
)


def migrations_dir() -> Path:
    return sandbox_data_dir() / "release" / "migrations"


def sqlx_bin() -> Path:
    return cache_dir() / "cargo" / "bin" / "sqlx"


def ro_password() -> str:
    return os.environ.get("NOVA_GATE_PG_PASSWORD") or "sandbox-ro-secret"


def backup_catalog() -> Path:
    return state_dir() / "backup" / "pgbackrest-info.json"


def _owner_url(dbname: str = "") -> str:
    from nova_gate.sandbox.pki import pki_dir

    db = dbname or DBNAME
    return (
        f"postgres://{OWNER_ROLE}:{OWNER_PASSWORD}@{ports.HOST}:{ports.POSTGRES_PRIMARY}/{db}"
        f"?sslmode=verify-full&sslrootcert={pki_dir() / 'ca.crt'}"
    )


LONG_QUERY_WAIT_S = 6
STAGING_DBNAME = "nova_staging"  # where the release's migrations were "tested in staging" (PRE-DB-2)


def _connect(
    port: int = ports.POSTGRES_PRIMARY,
    dbname: str = DBNAME,
    user: str = SUPERUSER,
    password: str | None = None,
    **kwargs: Any,
) -> Any:
    """A psycopg connection; the superuser comes in over the Unix socket (trust)."""
    import psycopg

    params: dict[str, Any] = {
        "port": port,
        "dbname": dbname,
        "user": user,
        # every sandbox-side connection (admin, health, fault helpers; never the gates'): 2 s timed
        # out once on a loaded CI machine just after a restart, and a snapshot that cannot connect is
        # a false difference in the undo proof. A stopped server still refuses at once.
        "connect_timeout": 10,
        "application_name": "nova-sandbox",
        "autocommit": True,
        **kwargs,
    }
    if user == SUPERUSER:
        params["host"] = str(_socket_dir())
    else:
        from nova_gate.sandbox.pki import pki_dir

        params["host"] = ports.HOST
        params["password"] = password
        params.setdefault("sslmode", "verify-full")
        params.setdefault("sslrootcert", str(pki_dir() / "ca.crt"))
    return psycopg.connect(**params)


def _home(root: Path | None = None) -> Path:
    """Where PostgreSQL's files live: the state directory's ``postgres/``, or, when the postgres user
    cannot traverse to it (a checkout under a 0700 directory, as ``mktemp -d`` makes), a directory of
    its own in the system's temporary directory, named after the state directory."""
    root = root or state_dir()
    if all(os.stat(p).st_mode & 0o001 for p in (root, *root.parents) if p != Path("/") and p.exists()):
        return root / "postgres"
    digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"nova-gate-postgres-{digest}"


def _socket_dir() -> Path:
    return _home() / "run"


def _sql(sql: Any, params: Any = None, *, port: int = ports.POSTGRES_PRIMARY, dbname: str = DBNAME) -> list[Any]:
    with _connect(port, dbname) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else []


def _migration_files() -> list[tuple[int, Path]]:
    """(version, up-or-simple file) per migration, sorted, as sqlx resolves them."""
    out = []
    for path in migrations_dir().glob("*.sql"):
        if path.name.endswith(".down.sql"):
            continue
        out.append((int(path.name.split("_", 1)[0]), path))
    return sorted(out)


def sqlx_checksum(path: Path) -> bytes:
    """sqlx's checksum: SHA-384 of the (up) file's bytes, as stored in _sqlx_migrations.checksum."""
    return hashlib.sha384(path.read_bytes()).digest()


def _sqlx(*args: str, dbname: str = "") -> str:
    return run(
        [
            str(sqlx_bin()),
            "migrate",
            *args,
            "--source",
            str(migrations_dir()),
            "--database-url",
            _owner_url(dbname),
            "--no-dotenv",
            "--connect-timeout",
            "10",
        ],
        cwd=str(state_dir()),
        timeout=300,
    )


def applied_versions() -> list[int]:
    rows = _sql("SELECT to_regclass('public._sqlx_migrations') IS NOT NULL")
    if not rows[0][0]:
        return []
    return [r[0] for r in _sql("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")]


def apply_release_migrations() -> str:
    """Run the release's pending migrations (the rehearsal's "migrations" phase) with sqlx-cli."""
    return _sqlx("run")


def pgbackrest_info(finished: datetime) -> list[dict[str, Any]]:
    """A pgBackRest ``info --output=json`` document with one full backup that stopped at ``finished``."""
    stop = int(finished.timestamp())
    start = stop - 42
    label = datetime.fromtimestamp(start, UTC).strftime("%Y%m%d-%H%M%SF")
    return [
        {
            "archive": [
                {
                    "database": {"id": 1, "repo-key": 1},
                    "id": "15-1",
                    "max": "000000010000000000000009",
                    "min": "000000010000000000000001",
                }
            ],
            "backup": [
                {
                    "archive": {"start": "000000010000000000000004", "stop": "000000010000000000000004"},
                    "backrest": {"format": 5, "version": "2.54.2"},
                    "database": {"id": 1, "repo-key": 1},
                    "database-ref": [{"name": "postgres", "oid": 5}, {"name": "nova", "oid": 16390}],
                    "error": False,
                    "info": {
                        "delta": 31876215,
                        "repository": {"delta": 4012394, "size": 4012394},
                        "size": 31876215,
                    },
                    "label": label,
                    "link": None,
                    "lsn": {"start": "0/4000028", "stop": "0/4000138"},
                    "prior": None,
                    "reference": None,
                    "tablespace": None,
                    "timestamp": {"start": start, "stop": stop},
                    "type": "full",
                }
            ],
            "cipher": "none",
            "db": [{"id": 1, "repo-key": 1, "system-id": 7311512346087441234, "version": "15"}],
            "name": "nova",
            "repo": [{"cipher": "none", "key": 1, "status": {"code": 0, "message": "ok"}}],
            "status": {"code": 0, "lock": {"backup": {"held": False}}, "message": "ok"},
        }
    ]


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            with contextlib.suppress(FileNotFoundError):
                os.lchown(os.path.join(root, name), uid, gid)


class Postgres(Component):
    name = "postgres"

    def __init__(self, root: Path | None = None) -> None:
        super().__init__(root)
        self.dir = _home(self.root)

    # -- paths ------------------------------------------------------------------------------
    def data(self, server: str) -> Path:
        return self.dir / server

    @property
    def archive(self) -> Path:
        return self.dir / "archive"

    def _as_postgres(self, argv: list[str]) -> list[str]:
        return ["setpriv", f"--reuid={OS_USER}", f"--regid={OS_USER}", "--init-groups", "--", *argv]

    def _ids(self) -> tuple[int, int]:
        pw = pwd.getpwnam(OS_USER)
        return pw.pw_uid, pw.pw_gid

    # -- lifecycle --------------------------------------------------------------------------
    def install(self) -> None:
        # pg_stat_statements ships in postgresql-15 on Debian 12 (postgresql-contrib-15 is only a
        # virtual package there, so it cannot be asked for by dpkg-query).
        if not (PG_BIN / "postgres").exists() or shutil.which("psql") is None:
            apt_install("postgresql-15", "postgresql-client-15")
        if not sqlx_bin().exists():
            if shutil.which("cargo") is None:
                raise SandboxError("postgres: cargo is needed to build sqlx-cli")
            run_logged(
                [
                    "cargo",
                    "install",
                    "sqlx-cli",
                    "--locked",
                    "--no-default-features",
                    "--features",
                    "postgres,rustls",
                    "--root",
                    str(cache_dir() / "cargo"),
                ],
                "postgres: building sqlx-cli with cargo (about 5 min cold)",
                build_log("sqlx-cli"),
                timeout=3600,
            )

    def start(self) -> None:
        uid, gid = self._ids()
        for d in (self.dir, self.archive, _socket_dir()):
            d.mkdir(parents=True, exist_ok=True)
            os.chown(d, uid, gid)
        # the postgres user must be able to reach the state directory
        for parent in self.dir.parents:  # _home() chose a reachable place; the temporary one must be too
            if parent != Path("/") and not os.stat(parent).st_mode & 0o001:
                raise SandboxError(f"postgres: {parent} is not traversable by the {OS_USER} user")
        if not (self.data("primary") / "PG_VERSION").exists():
            self._initdb()
        self._lock_down("primary")
        self._start_server("primary")
        self._bootstrap()
        if not (self.data("replica") / "PG_VERSION").exists():
            self._basebackup()
        self._lock_down("replica")
        self._start_server("replica")
        wait_for(self._replica_streaming, "postgres replica streaming", timeout=60)
        if not backup_catalog().exists():
            write_json(backup_catalog(), pgbackrest_info(datetime.now(UTC)))

    def stop(self) -> None:
        self._stop_long_query()
        for server in ("replica", "primary"):
            self._stop_server(server)
        super().stop()

    def reset(self) -> None:
        super().reset()
        backup_catalog().unlink(missing_ok=True)

    def health(self) -> Health:
        endpoint = f"postgres://{ports.HOST}:{ports.POSTGRES_PRIMARY}/{DBNAME} (replica :{ports.POSTGRES_REPLICA})"
        problems = []
        for server, port in SERVERS.items():
            try:
                with _connect(port, user=RO_ROLE, password=ro_password()) as conn:
                    conn.execute("SELECT 1")
            except Exception as exc:
                problems.append(f"{server} :{port}: {str(exc).strip().splitlines()[0] if str(exc) else exc}")
        if not problems and not self._replica_streaming():
            problems.append("replica not streaming in pg_stat_replication")
        return Health(not problems, endpoint, self.pids(), "; ".join(problems) or "primary + streaming replica")

    # -- servers ----------------------------------------------------------------------------
    def _initdb(self) -> None:
        uid, gid = self._ids()
        primary = self.data("primary")
        shutil.rmtree(primary, ignore_errors=True)
        primary.mkdir(parents=True)
        os.chown(primary, uid, gid)
        run(
            self._as_postgres(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(primary),
                    "-U",
                    SUPERUSER,
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                    "--data-checksums",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                ]
            ),
            timeout=120,
        )
        archive_cmd = f"test ! -f {self.archive}/%f && cp %p {self.archive}/%f"
        (primary / "nova_sandbox.conf").write_text(
            "\n".join(
                [
                    "# written by nova-gate's sandbox",
                    "listen_addresses = '127.0.0.1'",
                    f"unix_socket_directories = '{_socket_dir()}'",
                    "max_connections = 500",
                    "shared_buffers = 64MB",
                    "shared_preload_libraries = 'pg_stat_statements'",
                    "pg_stat_statements.track = all",
                    "track_io_timing = on",
                    "wal_level = replica",
                    "max_wal_senders = 10",
                    "wal_keep_size = 256MB",
                    "hot_standby = on",
                    "hot_standby_feedback = on",
                    "archive_mode = on",
                    f"archive_command = '{archive_cmd}'",
                    "archive_timeout = 300",
                    "logging_collector = off",
                    "log_line_prefix = '%m [%p] %q%u@%d '",
                    "log_min_duration_statement = 1000",
                    "include_if_exists = 'nova_server.conf'",
                    "",
                ]
            )
        )
        with open(primary / "postgresql.conf", "a") as fh:
            fh.write("\ninclude = 'nova_sandbox.conf'\n")
        (primary / "nova_server.conf").write_text(f"port = {ports.POSTGRES_PRIMARY}\n")
        (primary / "pg_hba.conf").write_text(
            "\n".join(
                [
                    "# TYPE  DATABASE     USER        ADDRESS        METHOD",
                    "local   all          all                        trust",
                    "local   replication  all                        trust",
                    f"host    replication  {REPLICATION_ROLE}  127.0.0.1/32   trust",
                    "host    all          all         127.0.0.1/32   scram-sha-256",
                    "",
                ]
            )
        )
        _chown_tree(primary, uid, gid)

    def _lock_down(self, server: str) -> None:
        """TLS with the sandbox CA's certificate, ``hostssl`` only, scram or client certificates.

        Rewritten at every start (a data directory made before TLS existed is locked on its next
        start). The superuser comes in over the Unix socket only; the replica streams with a
        client certificate (``cert``); every other role needs TLS and a scram-sha-256 password, but
        ``nova_gate_cert`` needs a client certificate whose CN is its name and nothing else.
        """
        from nova_gate.sandbox.pki import sandbox_ca

        uid, gid = self._ids()
        data = self.data(server)
        ca = sandbox_ca(self.root)
        pair = ca.server("postgres")
        repl = ca.client(REPLICATION_ROLE)
        for src, dst in ((pair.cert, "server.crt"), (pair.key, "server.key"), (ca.cert, "root.crt"),
                         (repl.cert, "replicator.crt"), (repl.key, "replicator.key")):
            target = data / dst
            target.write_bytes(src.read_bytes())
            target.chmod(0o600 if dst.endswith(".key") else 0o644)
            os.chown(target, uid, gid)
        (data / "nova_auth.conf").write_text(
            "# written by nova-gate's sandbox at every start: TLS and password hashing\n"
            "ssl = on\n"
            "ssl_cert_file = 'server.crt'\n"
            "ssl_key_file = 'server.key'\n"
            "ssl_ca_file = 'root.crt'\n"
            "ssl_min_protocol_version = 'TLSv1.2'\n"
            "password_encryption = 'scram-sha-256'\n"
        )
        conf = data / "postgresql.conf"
        if "nova_auth.conf" not in conf.read_text():
            with open(conf, "a") as fh:
                fh.write("\ninclude_if_exists = 'nova_auth.conf'\n")
        (data / "pg_hba.conf").write_text(PG_HBA)
        auto = data / "postgresql.auto.conf"
        if server == "replica" and auto.exists():
            conninfo = (
                f"user={REPLICATION_ROLE} host={ports.HOST} port={ports.POSTGRES_PRIMARY} sslmode=verify-full "
                f"sslrootcert={data / 'root.crt'} sslcert={data / 'replicator.crt'} "
                f"sslkey={data / 'replicator.key'} application_name=replica"
            )
            lines = [ln for ln in auto.read_text().splitlines() if not ln.startswith("primary_conninfo")]
            lines.append(f"primary_conninfo = '{conninfo}'")
            auto.write_text("\n".join(lines) + "\n")
        for name in ("nova_auth.conf", "pg_hba.conf", "postgresql.auto.conf"):
            if (data / name).exists():
                os.chown(data / name, uid, gid)

    def _start_server(self, server: str) -> None:
        port = SERVERS[server]
        proc = f"postgres-{server}"
        if self.running(proc, port):
            wait_port(port, f"postgres {server}", timeout=60)
            return
        data = self.data(server)
        (data / "postmaster.pid").unlink(missing_ok=True)  # stale after a crash; we checked the pid
        self.spawn(proc, self._as_postgres([str(PG_BIN / "postgres"), "-D", str(data)]))
        self.wait_started(
            proc, lambda: self._accepts(port), f"postgres {server} on port {port}", 90, label=f"postgres {server}"
        )

    def _accepts(self, port: int) -> bool:
        try:
            with _connect(port, "postgres") as conn:
                conn.execute("SELECT 1")
            return True
        except Exception:
            return False

    def _undo_primary_down(self) -> None:
        self._start_server("primary")
        self._wait_streaming()

    def _stop_server(self, server: str, timeout: float = 60) -> None:
        """Fast shutdown (SIGINT to the postmaster), waiting for it to exit."""
        proc = f"postgres-{server}"
        pid = self.pid(proc)
        if pid and pid_alive(pid):
            signal_and_wait(pid, signal.SIGINT, timeout)
        self.stop_process(proc)  # escalates only if fast shutdown did not finish; removes the pid file

    def _restart(self, server: str) -> None:
        self._stop_server(server)
        self._start_server(server)

    def _basebackup(self) -> None:
        uid, gid = self._ids()
        replica = self.data("replica")
        primary = self.data("primary")
        shutil.rmtree(replica, ignore_errors=True)
        run(
            self._as_postgres(
                [
                    str(PG_BIN / "pg_basebackup"),
                    "-d",
                    # the replication role logs in with its client certificate (pg_hba ``cert``);
                    # the primary's copies are readable by the postgres OS user
                    f"host={ports.HOST} port={ports.POSTGRES_PRIMARY} user={REPLICATION_ROLE} "
                    f"sslmode=verify-full sslrootcert={primary / 'root.crt'} "
                    f"sslcert={primary / 'replicator.crt'} sslkey={primary / 'replicator.key'}",
                    "-D",
                    str(replica),
                    "-R",
                    "-X",
                    "stream",
                    "-c",
                    "fast",
                    "--no-password",
                ]
            ),
            timeout=300,
        )
        (replica / "nova_server.conf").write_text(f"port = {ports.POSTGRES_REPLICA}\n")
        _chown_tree(replica, uid, gid)

    def _replica_streaming(self) -> bool:
        try:
            rows = _sql("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'", dbname="postgres")
            return bool(rows[0][0])
        except Exception:
            return False

    # -- first start: roles, database, schema, data ----------------------------------------
    def _bootstrap(self) -> None:
        from psycopg import sql

        def role(name: str, password: str | None, extra: str = "LOGIN") -> None:
            exists = _sql("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,), dbname="postgres")
            verb = "ALTER" if exists else "CREATE"
            stmt = sql.SQL(f"{verb} ROLE {{}} {extra}").format(sql.Identifier(name))
            if password is not None:
                stmt = sql.SQL("{} PASSWORD {}").format(stmt, sql.Literal(password))
            _sql(stmt, dbname="postgres")

        role(REPLICATION_ROLE, None, "LOGIN REPLICATION")
        role(OWNER_ROLE, OWNER_PASSWORD)
        role(RO_ROLE, ro_password())
        role(SMOKE_ROLE, SMOKE_PASSWORD)
        role(CERT_ROLE, None)
        if not _sql("SELECT 1 FROM pg_database WHERE datname = %s", (DBNAME,), dbname="postgres"):
            _sql(f"CREATE DATABASE {DBNAME} OWNER {OWNER_ROLE}", dbname="postgres")
        # read-only by privilege (pg_read_all_data grants SELECT only; PostgreSQL 15 gives PUBLIC no
        # CREATE on schema public), not only by the session default a client could SET off
        for ro in (RO_ROLE, CERT_ROLE):
            _sql(f"ALTER ROLE {ro} SET default_transaction_read_only = on", dbname="postgres")
            _sql(f"GRANT pg_read_all_data, pg_monitor TO {ro}", dbname="postgres")
        for db in (DBNAME, STAGING_DBNAME):
            if _sql("SELECT 1 FROM pg_database WHERE datname = %s", (db,), dbname="postgres"):
                _sql(f"REVOKE TEMPORARY ON DATABASE {db} FROM PUBLIC", dbname="postgres")
                _sql(f"GRANT TEMPORARY ON DATABASE {db} TO {OWNER_ROLE}, {SMOKE_ROLE}", dbname="postgres")
        _sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        applied = applied_versions()
        if BASELINE_MIGRATION not in applied:
            if applied and max(applied) > BASELINE_MIGRATION:
                raise SandboxError("postgres: the database is past the baseline but lacks it; run sandbox reset")
            _sqlx("run", "--target-version", str(BASELINE_MIGRATION))
        # a known state: the schema must be exactly what _sqlx_migrations says (a fault or an
        # interrupted run can leave a release column without its row); else rebuild at the baseline
        repaired = repair_schema(DBNAME, BASELINE_MIGRATION)
        if repaired:
            print(f"postgres: {DBNAME} did not match its recorded migrations, rebuilt: {repaired[0]}", flush=True)
        if not _sql("SELECT 1 FROM pg_database WHERE datname = %s", (STAGING_DBNAME,), dbname="postgres"):
            _sql(f"CREATE DATABASE {STAGING_DBNAME} OWNER {OWNER_ROLE}", dbname="postgres")
        _sqlx("run", dbname=STAGING_DBNAME)  # staging has the whole release applied
        _sql(f"GRANT USAGE ON SCHEMA public TO {SMOKE_ROLE}")
        with _connect(user=OWNER_ROLE, password=OWNER_PASSWORD) as conn:
            for table in SMOKE_TABLES:
                conn.execute(f"GRANT SELECT, INSERT, DELETE ON {table} TO {SMOKE_ROLE}")
            conn.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {SMOKE_ROLE}")
            if not conn.execute("SELECT count(*) FROM users").fetchone()[0]:
                self._seed(conn)
        # finish a WAL segment so pg_stat_archiver has a last_archived_time
        if not _sql("SELECT last_archived_time FROM pg_stat_archiver")[0][0]:
            _sql("SELECT pg_switch_wal()")
            wait_for(
                lambda: bool(_sql("SELECT last_archived_time FROM pg_stat_archiver")[0][0]),
                "postgres WAL archiving",
                timeout=30,
            )

    def _seed(self, conn: Any) -> None:
        """A few hundred users with posts, follows, feeds, conversations, media, notifications."""
        with conn.transaction():
            conn.execute("""
                INSERT INTO users (email, username, password_hash, created_at)
                SELECT 'user' || i || '@example.test', 'user' || i,
                       '$argon2id$v=19$m=19456,t=2,p=1$c2FuZGJveHNhbHQ$' || md5(i::text),
                       now() - (400 - i) * interval '6 hours'
                FROM generate_series(1, 400) AS i""")
            conn.execute("""
                INSERT INTO sessions (id, user_id, created_at, expires_at)
                SELECT gen_random_uuid(), u, now() - interval '1 hour', now() + interval '29 days'
                FROM generate_series(1, 400, 3) AS u""")
            conn.execute("""
                INSERT INTO media (owner_id, url, mime_type, size_bytes)
                SELECT 1 + (i * 7) % 400, 'https://cdn.nova.test/m/' || md5(i::text) || '.jpg',
                       'image/jpeg', 20000 + i * 131
                FROM generate_series(1, 150) AS i""")
            conn.execute("""
                INSERT INTO posts (author_id, body, created_at, media_id)
                SELECT 1 + (i * 13) % 400, 'Post number ' || i || ' from the sandbox',
                       now() - (900 - i) * interval '40 minutes',
                       CASE WHEN i % 6 = 0 THEN 1 + (i / 6) % 150 END
                FROM generate_series(1, 900) AS i""")
            conn.execute("""
                INSERT INTO follows (follower_id, followee_id)
                SELECT DISTINCT f, 1 + (f + k * 37) % 400
                FROM generate_series(1, 400) AS f, generate_series(1, 8) AS k
                WHERE f <> 1 + (f + k * 37) % 400""")
            conn.execute("""
                INSERT INTO feed_items (user_id, post_id, score, created_at)
                SELECT f.follower_id, p.id, random(), p.created_at
                FROM follows f JOIN posts p ON p.author_id = f.followee_id
                WHERE p.id % 3 = 0""")
            conn.execute("""
                INSERT INTO conversations (id, created_at)
                SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid,
                       now() - i * interval '1 day'
                FROM generate_series(1, 60) AS i""")
            conn.execute("""
                INSERT INTO conversation_members (conversation_id, user_id)
                SELECT c.id, 1 + ((row_number() OVER ()) * 11 + m) % 400
                FROM conversations c, generate_series(0, 1) AS m""")
            conn.execute("""
                INSERT INTO messages (conversation_id, sender_id, content, created_at)
                SELECT cm.conversation_id, cm.user_id, 'hello #' || k, now() - k * interval '5 minutes'
                FROM conversation_members cm, generate_series(1, 5) AS k""")
            conn.execute("""
                INSERT INTO notifications (user_id, kind, payload, read_at)
                SELECT 1 + i % 400, (ARRAY['follow', 'like', 'mention', 'message'])[1 + i % 4],
                       jsonb_build_object('actor_id', 1 + (i * 3) % 400, 'post_id', 1 + i % 900),
                       CASE WHEN i % 3 = 0 THEN now() END
                FROM generate_series(1, 1200) AS i""")
        conn.execute("ANALYZE")

    # -- faults -----------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Schema and recorded migrations of both databases, roles and their settings, grants,
        non-default server settings (primary and replica), replication, the fault clients still
        connected, slow statements and the backup's age. Left out: pids, LSNs, counters other
        than the slow statements', migration run times and the backup's exact timestamps."""
        fault_apps = (LONG_QUERY_APP, "nova-sandbox-hog")
        settings = """SELECT name, setting, pending_restart FROM pg_settings
                       WHERE source NOT IN ('default', 'client', 'session', 'override') ORDER BY name"""
        out: dict[str, Any] = {**super().snapshot()}
        for db in (DBNAME, STAGING_DBNAME):
            out[f"schema:{db}"] = schema_fingerprint(db)
            out[f"migrations:{db}"] = [
                (int(v), d, bool(s), bytes(c).hex())
                for v, d, s, c in _sql(
                    "SELECT version, description, success, checksum FROM _sqlx_migrations ORDER BY version", dbname=db
                )
            ]
            out[f"acl:{db}"] = [
                tuple(map(str, r))
                for r in _sql(
                    "SELECT c.relname, coalesce(c.relacl::text, '') FROM pg_class c"
                    " WHERE c.relnamespace = 'public'::regnamespace ORDER BY 1",
                    dbname=db,
                )
            ] + [
                tuple(map(str, r)) for r in _sql("SELECT nspname, nspacl::text FROM pg_namespace ORDER BY 1", dbname=db)
            ]
        out["roles"] = [
            tuple(map(str, r))
            for r in _sql(
                "SELECT r.rolname, r.rolsuper, r.rolcanlogin, r.rolreplication, r.rolconnlimit,"
                " coalesce((SELECT string_agg(g.rolname, ',' ORDER BY g.rolname) FROM pg_auth_members m"
                "   JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid), ''),"
                " coalesce((SELECT string_agg(array_to_string(s.setconfig, ','), ';') FROM pg_db_role_setting s"
                "   WHERE s.setrole = r.oid), '')"
                " FROM pg_roles r WHERE r.rolname !~ '^pg_' ORDER BY 1",
                dbname="postgres",
            )
        ]
        out["settings:primary"] = [tuple(map(str, r)) for r in _sql(settings, dbname="postgres")]
        out["settings:replica"] = [
            tuple(map(str, r)) for r in _sql(settings, port=ports.POSTGRES_REPLICA, dbname="postgres")
        ]
        out["replica"] = (
            [r[0] for r in _sql("SELECT state FROM pg_stat_replication ORDER BY 1", dbname="postgres")],
            _sql("SELECT pg_get_wal_replay_pause_state()", port=ports.POSTGRES_REPLICA)[0][0],
        )
        out["fault_clients"] = [
            tuple(map(str, r))
            for r in _sql(
                "SELECT application_name, count(*) FROM pg_stat_activity WHERE application_name = ANY(%s)"
                " GROUP BY 1 ORDER BY 1",
                (list(fault_apps),),
                dbname="postgres",
            )
        ]
        # the application's slow statements, not the sandbox's own (superuser) administration: an
        # ALTER SYSTEM that fsyncs postgresql.auto.conf took over 500 ms once on a loaded machine
        out["slow_statements"] = sorted(
            str(r[0])
            for r in _sql(
                "SELECT s.query FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid"
                " WHERE s.mean_exec_time > 500 AND NOT r.rolsuper"
            )
        )
        try:
            info = json.loads(backup_catalog().read_text())
            stop = max(b["timestamp"]["stop"] for b in info[0]["backup"])
            out["backup_age_days"] = int((time.time() - stop) // 86400)
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            out["backup_age_days"] = None
        return out

    def faults(self) -> list[Fault]:
        return [
            Fault(
                "pg-primary-down",
                "the primary is stopped: every probe of the database must FAIL in bounded time",
                ("PST-7", "MIG-1", "PD-5"),
                lambda: self._stop_server("primary"),
                self._undo_primary_down,
                self.name,
            ),
            Fault(
                "pg-replica-stopped",
                "the streaming replica on 55433 is stopped",
                ("PD-4",),
                lambda: self._stop_server("replica"),
                self._undo_replica_stopped,
                self.name,
            ),
            Fault(
                "pg-replica-lagging",
                "replay paused on the replica while the primary keeps writing",
                ("PD-4",),
                self._inject_lag,
                self._undo_lag,
                self.name,
            ),
            Fault(
                "pg-long-query",
                "a client of role nova runs SELECT pg_sleep(3600) on the primary",
                ("PD-5",),
                self._inject_long_query,
                self._stop_long_query,
                self.name,
            ),
            Fault(
                "pg-failed-migration",
                "_sqlx_migrations has a row with success = false",
                ("PRE-DB-5", "MIG-3", "MIG-5"),
                self._inject_failed_migration,
                self._undo_failed_migration,
                self.name,
                stage=Stage.MIGRATED,
            ),
            Fault(
                "pg-checksum-drift",
                "an applied migration's checksum differs from its file",
                ("PRE-DB-2", "PRE-DB-5", "MIG-3"),
                self._inject_checksum_drift,
                self._undo_checksum_drift,
                self.name,
                stage=Stage.MIGRATED,
            ),
            Fault(
                "pg-stale-backup",
                "the newest backup in the catalog is 3 days old",
                ("PRE-DB-4",),
                lambda: write_json(backup_catalog(), pgbackrest_info(datetime.now(UTC) - timedelta(days=3))),
                lambda: write_json(backup_catalog(), pgbackrest_info(datetime.now(UTC))),
                self.name,
            ),
            *self._migration_faults(),
            Fault(
                "pg-max-connections-low",
                "max_connections on the primary is 30",
                ("PRE-INF-2", "MON-6"),
                lambda: self._set_max_connections(30),
                lambda: self._set_max_connections(None),
                self.name,
            ),
        ]

    def _migration_faults(self) -> list[Fault]:
        """Pending migrations written into the release repository's copy (.sandbox/release)."""
        release_dir = self.root / "release" / "migrations"
        version = "20261125000000"

        def pending(name: str, up: str, down: str | None) -> tuple[Callable[[], None], Callable[[], None]]:
            files = [release_dir / (f"{version}_{name}.up.sql" if down is not None else f"{version}_{name}.sql")]
            if down is not None:
                files.append(release_dir / f"{version}_{name}.down.sql")

            def inject() -> None:
                files[0].write_text(up)
                if down is not None:
                    files[1].write_text(down)

            def undo() -> None:
                for f in files:
                    f.unlink(missing_ok=True)

            return inject, undo

        lock = "SET lock_timeout = '5s';\n"
        drop = pending(
            "drop_username",
            lock + "ALTER TABLE users DROP COLUMN username;\n",
            "ALTER TABLE users ADD COLUMN username TEXT;\n",
        )
        rename = pending(
            "rename_email",
            lock + "ALTER TABLE users RENAME COLUMN email TO email_address;\n",
            "ALTER TABLE users RENAME COLUMN email_address TO email;\n",
        )
        comment = pending(
            "comment_only",
            lock + "-- ALTER TABLE users DROP COLUMN email;\n"
            "/* DROP TABLE users; */\nCOMMENT ON TABLE users IS 'ALTER TABLE users DROP COLUMN x';\n",
            "COMMENT ON TABLE users IS NULL;\n",
        )
        # the common idempotent idiom: a rename guarded by IF EXISTS inside a DO block (runs at migration time)
        do_rename = pending(
            "rename_email_if_present",
            lock + "DO $$\nBEGIN\n"
            "    IF EXISTS (SELECT 1 FROM information_schema.columns\n"
            "               WHERE table_name = 'users' AND column_name = 'email') THEN\n"
            "        ALTER TABLE users RENAME COLUMN email TO email_address;\n"
            "    END IF;\nEND\n$$;\n",
            "ALTER TABLE users RENAME COLUMN email_address TO email;\n",
        )
        no_down = pending("add_bio", lock + "ALTER TABLE users ADD COLUMN bio TEXT;\n", None)

        def owner(sql: str) -> Callable[[], None]:
            def apply() -> None:
                with _connect(user=OWNER_ROLE, password=OWNER_PASSWORD) as conn:
                    conn.execute(sql)

            return apply

        def slow() -> None:
            with _connect(user=OWNER_ROLE, password=OWNER_PASSWORD) as conn:
                for _ in range(3):
                    conn.execute("SELECT pg_sleep(0.7)")

        def readd_display_name() -> None:
            # the release migration's own statements: dropping the column dropped its CHECK constraint too
            up = next(p for v, p in _migration_files() if p.name.endswith("_users_display_name.up.sql"))
            with _connect(user=OWNER_ROLE, password=OWNER_PASSWORD) as conn:
                exists = conn.execute(
                    "SELECT 1 FROM information_schema.columns"
                    " WHERE table_name = 'users' AND column_name = 'display_name'"
                ).fetchone()
                if not exists:
                    conn.execute(up.read_text())

        def forget_slow() -> None:
            # only the statement the fault ran: a full reset would also wipe the statistics it found
            _sql(
                "SELECT pg_stat_statements_reset(s.userid, s.dbid, s.queryid) FROM pg_stat_statements s"
                " JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = %s AND s.query ~ '^SELECT pg_sleep'",
                (OWNER_ROLE,),
            )

        return [
            Fault(
                "pg-pending-drop-column",
                "a pending migration drops users.username",
                ("PRE-DB-1", "MIG-2"),
                *drop,
                self.name,
            ),
            Fault(
                "pg-pending-rename-column",
                "a pending migration renames users.email",
                ("PRE-DB-1", "MIG-2"),
                *rename,
                self.name,
            ),
            Fault(
                "pg-pending-do-block-rename",
                "a pending migration renames users.email inside a DO block (IF EXISTS ... THEN ALTER ...)",
                ("PRE-DB-1", "MIG-2"),
                *do_rename,
                self.name,
            ),
            Fault(
                "pg-pending-drop-in-comment",
                "DROP statements only inside comments and a string literal",
                ("PRE-DB-1", "MIG-2"),
                *comment,
                self.name,
                expect="PASS",
            ),
            Fault(
                "pg-pending-without-down",
                "a pending migration has no down migration",
                ("PRE-DB-3",),
                *no_down,
                self.name,
            ),
            Fault(
                "pg-column-missing",
                "after migrating, users.display_name is gone",
                ("MIG-4",),
                owner("ALTER TABLE users DROP COLUMN IF EXISTS display_name"),
                readd_display_name,
                self.name,
                stage=Stage.MIGRATED,
            ),
            Fault(
                "pg-not-reverted",
                "the release's migrations are still applied after a rollback",
                ("RBK-3",),
                lambda: apply_release_migrations() and None,
                lambda: revert_release_migrations() and None,
                self.name,
            ),
            Fault(
                "pg-slow-statements",
                "a statement averaging 700 ms in pg_stat_statements",
                ("P24-4",),
                slow,
                forget_slow,
                self.name,
                expect="WARN",
            ),
        ]

    def _wait_streaming(self) -> None:
        wait_for(self._replica_streaming, "postgres replica streaming", timeout=60)

    def _undo_replica_stopped(self) -> None:
        self._start_server("replica")
        self._wait_streaming()

    def _inject_lag(self) -> None:
        _sql("SELECT pg_wal_replay_pause()", port=ports.POSTGRES_REPLICA)
        wait_for(
            lambda: _sql("SELECT pg_get_wal_replay_pause_state()", port=ports.POSTGRES_REPLICA)[0][0] == "paused",
            "postgres replica replay paused",
            timeout=30,
        )
        # real writes on the primary (committed transactions, so the replica's last replayed commit
        # timestamp falls behind too); pg_logical_emit_message touches no table
        with _connect() as conn:
            for _ in range(5):
                with conn.transaction():
                    conn.execute("SELECT pg_logical_emit_message(true, 'nova-sandbox', 'replica-lag')")
            conn.execute("ANALYZE sessions")

        def diverged() -> bool:
            rows = _sql("SELECT pg_wal_lsn_diff(sent_lsn, replay_lsn) FROM pg_stat_replication", dbname="postgres")
            return bool(rows) and rows[0][0] is not None and rows[0][0] > 0

        wait_for(diverged, "replica replay LSN behind the primary", timeout=30)

    def _undo_lag(self) -> None:
        _sql("SELECT pg_wal_replay_resume()", port=ports.POSTGRES_REPLICA)

        def caught_up() -> bool:
            rows = _sql(
                "SELECT pg_wal_lsn_diff(sent_lsn, replay_lsn) FROM pg_stat_replication WHERE state = 'streaming'",
                dbname="postgres",
            )
            return bool(rows) and rows[0][0] == 0

        wait_for(caught_up, "replica caught up", timeout=60)

    def _long_query_backends(self) -> list[int]:
        return [
            r[0]
            for r in _sql(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                (LONG_QUERY_APP,),
                dbname="postgres",
            )
        ]

    def _inject_long_query(self) -> None:
        if self._long_query_backends():
            return
        self.stop_process("postgres-longquery")
        self.spawn(
            "postgres-longquery",
            [
                "psql",
                "-X",
                "-q",
                "-h",
                ports.HOST,
                "-p",
                str(ports.POSTGRES_PRIMARY),
                "-U",
                OWNER_ROLE,
                "-d",
                DBNAME,
                "-c",
                "SELECT pg_sleep(3600)",
            ],
            env={
                "PGPASSWORD": OWNER_PASSWORD,
                "PGAPPNAME": LONG_QUERY_APP,
                "PGCONNECT_TIMEOUT": "5",
                "PGSSLMODE": "verify-full",
                "PGSSLROOTCERT": str(self.root / "pki" / "ca.crt"),
            },
        )
        wait_for(lambda: bool(self._long_query_backends()), "the long query to be running", timeout=20)
        (self.dir / "long-query.backend").write_text(str(self._long_query_backends()[0]))
        time.sleep(LONG_QUERY_WAIT_S)  # older than environments/sandbox.yaml thresholds.long_query_s

    def _stop_long_query(self) -> None:
        if self.pid("postgres-primary") and port_open(ports.POSTGRES_PRIMARY):
            with contextlib.suppress(Exception):
                for backend in self._long_query_backends():
                    _sql("SELECT pg_terminate_backend(%s)", (backend,), dbname="postgres")
        self.stop_process("postgres-longquery", timeout=5)
        (self.dir / "long-query.backend").unlink(missing_ok=True)

    def _inject_failed_migration(self) -> None:
        _sql(
            """INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
                VALUES (%s, 'backfill feed scores', false, %s, -1) ON CONFLICT (version) DO NOTHING""",
            (FAILED_MIGRATION_VERSION, hashlib.sha384(b"UPDATE feed_items SET score = 0;\n").digest()),
        )

    def _undo_failed_migration(self) -> None:
        _sql("DELETE FROM _sqlx_migrations WHERE version = %s AND NOT success", (FAILED_MIGRATION_VERSION,))

    def _drift_file(self) -> Path:
        return {v: p for v, p in _migration_files()}[DRIFT_MIGRATION_VERSION]

    def _inject_checksum_drift(self) -> None:
        drifted = hashlib.sha384(self._drift_file().read_bytes() + b"-- edited after it was applied\n").digest()
        for db in (DBNAME, STAGING_DBNAME):
            _sql(
                "UPDATE _sqlx_migrations SET checksum = %s WHERE version = %s",
                (drifted, DRIFT_MIGRATION_VERSION),
                dbname=db,
            )

    def _undo_checksum_drift(self) -> None:
        for db in (DBNAME, STAGING_DBNAME):
            _sql(
                "UPDATE _sqlx_migrations SET checksum = %s WHERE version = %s",
                (sqlx_checksum(self._drift_file()), DRIFT_MIGRATION_VERSION),
                dbname=db,
            )

    def _set_max_connections(self, value: int | None) -> None:
        current = int(_sql("SHOW max_connections", dbname="postgres")[0][0])
        if value is None:
            _sql("ALTER SYSTEM RESET max_connections", dbname="postgres")
            wanted = 500
            self.stop_process("postgres-hog", timeout=5)
        else:
            _sql(f"ALTER SYSTEM SET max_connections = {int(value)}", dbname="postgres")
            wanted = value
        if current != wanted:
            self._restart("primary")
        self._wait_streaming()
        if value is not None:
            self._hog_connections(int(value) - 6)

    def _hog_connections(self, count: int) -> None:
        """Hold ``count`` idle client connections (a pool that grew to its limit)."""
        code = (
            "import psycopg, time, sys\n"
            "conns = [psycopg.connect(sys.argv[1], application_name='nova-sandbox-hog') "
            "for _ in range(int(sys.argv[2]))]\n"
            "time.sleep(3600)\n"
        )
        self.spawn("postgres-hog", [sys.executable, "-c", code, _owner_url(), str(count)])
        wait_for(
            lambda: (
                int(
                    _sql(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'nova-sandbox-hog'",
                        dbname="postgres",
                    )[0][0]
                )
                >= count
            ),
            "hog connections",
            timeout=30,
        )


_SCHEMA_FINGERPRINT = """
WITH ext AS (  -- objects of extensions (pg_stat_statements' views) are not the application's schema
    SELECT c.relname FROM pg_class c
      JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
), skip AS (SELECT relname FROM ext UNION SELECT '_sqlx_migrations')
SELECT 'column', table_name::text, column_name::text,
       data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '')
  FROM information_schema.columns
 WHERE table_schema = 'public' AND table_name NOT IN (SELECT relname FROM skip)
UNION ALL
SELECT 'index', tablename::text, indexname::text, indexdef
  FROM pg_indexes WHERE schemaname = 'public' AND tablename NOT IN (SELECT relname FROM skip)
UNION ALL
SELECT 'constraint', conrelid::regclass::text, conname::text, pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = 'public'::regnamespace
   AND conrelid::regclass::text NOT IN (SELECT relname FROM skip)
UNION ALL
SELECT 'relation', c.relname::text, c.relkind::text, ''
  FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'S')
   AND c.relname NOT IN (SELECT relname FROM skip)
ORDER BY 1, 2, 3, 4
"""


def schema_fingerprint(dbname: str) -> list[tuple[str, ...]]:
    """The public schema's tables, columns, indexes and constraints (not the migrations table)."""
    return [tuple(str(v) for v in row) for row in _sql(_SCHEMA_FINGERPRINT, dbname=dbname)]


def recorded_migrations(dbname: str) -> tuple[list[int], list[str]]:
    """(successfully applied versions, problems: failed rows, checksums that differ from the files)."""
    if not _sql("SELECT to_regclass('public._sqlx_migrations') IS NOT NULL", dbname=dbname)[0][0]:
        return [], []
    rows = _sql("SELECT version, success, checksum FROM _sqlx_migrations ORDER BY version", dbname=dbname)
    files = dict(_migration_files())
    problems = []
    applied = []
    for version, success, checksum in rows:
        if not success:
            problems.append(f"migration {version} recorded as failed")
        elif version not in files:
            problems.append(f"migration {version} applied but has no file")
        elif bytes(checksum) != sqlx_checksum(files[version]):
            problems.append(f"migration {version}: checksum differs from its file")
        else:
            applied.append(int(version))
    expected_prefix = [v for v, _ in _migration_files()][: len(applied)]
    if applied != expected_prefix:
        problems.append(f"applied migrations {applied} are not the first {len(applied)} of the files")
    return applied, problems


def verify_schema(dbname: str) -> list[str]:
    """Compare ``dbname`` with a scratch database built by sqlx-cli from exactly the migrations
    its ``_sqlx_migrations`` records; return the differences (empty: the schema is what it says)."""
    applied, problems = recorded_migrations(dbname)
    if problems:
        return problems
    scratch = f"nova_schema_check_{os.getpid()}"
    _sql(f"DROP DATABASE IF EXISTS {scratch}", dbname="postgres")
    _sql(f"CREATE DATABASE {scratch} OWNER {OWNER_ROLE}", dbname="postgres")
    try:
        if applied:
            _sqlx("run", "--target-version", str(applied[-1]), dbname=scratch)
        expected, actual = set(schema_fingerprint(scratch)), set(schema_fingerprint(dbname))
    finally:
        _sql(f"DROP DATABASE IF EXISTS {scratch} WITH (FORCE)", dbname="postgres")
    out = [f"not in the recorded migrations: {' '.join(row)}" for row in sorted(actual - expected)]
    out += [f"missing, though recorded as applied: {' '.join(row)}" for row in sorted(expected - actual)]
    return out


def reset_database(dbname: str, target_version: int) -> None:
    """Drop and recreate ``dbname`` (closing its sessions), then apply migrations up to the target."""
    _sql(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)", dbname="postgres")
    _sql(f"CREATE DATABASE {dbname} OWNER {OWNER_ROLE}", dbname="postgres")
    _sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", dbname=dbname)
    _sqlx("run", "--target-version", str(target_version), dbname=dbname)


def repair_schema(dbname: str, target_version: int) -> list[str]:
    """``sandbox up``: verify the schema against the recorded migrations; reset it when they
    disagree. Returns what was wrong (empty when nothing was)."""
    problems = verify_schema(dbname)
    if problems:
        reset_database(dbname, target_version)
    return problems


def revert_release_migrations() -> str:
    """Undo the release's migrations with their down files, back to :data:`BASELINE_MIGRATION`."""
    return _sqlx("revert", "--target-version", str(BASELINE_MIGRATION))
