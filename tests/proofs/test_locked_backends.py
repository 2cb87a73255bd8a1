"""The sandbox's backends are locked as production locks them, and the gates' identity is read-only.

Against the real servers (PostgreSQL, Redis standalone and cluster, the ClickHouse stand-in,
Prometheus, Alertmanager, OpenSearch with its security plugin), with their own drivers:

- read-only: the gates' identity reads what the gates read, and every kind of write is refused by the
  server itself (privileges, ACLs, readonly, APIs that are off), not by the client;
- wrong credentials: a wrong password, an unknown user, no credentials, an untrusted CA, plaintext to
  a TLS port, a missing or foreign client certificate: refused, fast, and the refusal carries no secret.

Table-driven: one row per (backend, case); a case is a callable that must raise within the budget.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from nova_gate.sandbox import identities, ports
from nova_gate.sandbox.base import state_dir

BUDGET_S = 10.0
WRONG = "wrong-password-i12"
#: every secret a refusal must not echo
SECRETS = [WRONG] + [
    getattr(identities, n).password
    for n in dir(identities)
    if isinstance(getattr(identities, n), identities.Identity) and getattr(identities, n).password
]


def ca() -> str:
    return str(state_dir() / "pki" / "ca.crt")


def bad_ca() -> str:
    from nova_gate.sandbox.pki import untrusted_ca

    return str(untrusted_ca().cert)


# -- PostgreSQL ---------------------------------------------------------------------------------
def pg(user: str = identities.PG_GATES.user, password: str | None = None, **kw: Any) -> Any:
    import psycopg

    params: dict[str, Any] = {
        "host": ports.HOST, "port": ports.POSTGRES_PRIMARY, "dbname": "nova", "user": user,
        "connect_timeout": 3, "sslmode": "verify-full", "sslrootcert": ca(), "autocommit": True,
    }
    if password is not None or user == identities.PG_GATES.user:
        params["password"] = identities.PG_GATES.password if password is None else password
    params.update(kw)
    return psycopg.connect(**params)


def pg_cert(name: str = identities.PG_GATES_CERT.user, untrusted: bool = False) -> dict[str, str]:
    from nova_gate.sandbox.pki import sandbox_ca, untrusted_ca

    issuer = untrusted_ca() if untrusted else sandbox_ca()
    pair = issuer.client(f"pg-{name}", name)
    return {"sslcert": str(pair.cert), "sslkey": str(pair.key)}


# -- Redis --------------------------------------------------------------------------------------
def rd(port: int = ports.REDIS, user: str | None = identities.REDIS_GATES.user, password: str | None = None,
       cafile: str | None = None, tls: bool = True) -> Any:
    import redis

    client = redis.Redis(
        host=ports.HOST, port=port, username=user,
        password=identities.REDIS_GATES.password if password is None else password,
        ssl=tls, ssl_ca_certs=(cafile or ca()) if tls else None,
        socket_timeout=3, socket_connect_timeout=3, decode_responses=True,
    )
    client.ping()
    return client


# -- HTTP (ClickHouse, Prometheus, Alertmanager) --------------------------------------------------
def http(method: str, url: str, auth: tuple[str, str] | None, verify: str | bool | None = None,
         **kw: Any) -> httpx.Response:
    cafile = ca() if verify is None else verify
    context = ssl.create_default_context(cafile=cafile) if isinstance(cafile, str) else cafile
    return httpx.request(method, url, auth=auth, verify=context, timeout=5, **kw)


CH = f"https://{ports.HOST}:{ports.CLICKHOUSE_HTTP}/"
PROM = f"https://{ports.HOST}:{ports.PROMETHEUS}"
AM = f"https://{ports.HOST}:{ports.ALERTMANAGER}"
OS = f"https://{ports.HOST}:{ports.OPENSEARCH_HTTP}"


def ch(sql: str, user: identities.Identity = identities.CH_GATES, password: str | None = None,
       verify: str | bool | None = None) -> httpx.Response:
    auth = (user.user, user.password if password is None else password)
    return ok(http("POST", CH, auth, verify, content=sql.encode()))


class Refused(PermissionError):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"HTTP {status}: {text.strip()[:200]}")
        self.status = status


def ok(resp: httpx.Response) -> httpx.Response:
    if resp.status_code != 200:
        raise Refused(resp.status_code, resp.text)
    return resp


G_PROM = (identities.PROM_GATES.user, identities.PROM_GATES.password)
G_AM = (identities.AM_GATES.user, identities.AM_GATES.password)
G_OS = (identities.SEARCH_GATES.user, identities.SEARCH_GATES.password)


# ================================================================================================
# Read-only identities: reads work, writes are refused by the server
# ================================================================================================
def _pg_reads() -> None:
    with pg() as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone()[0] > 0
        assert conn.execute("SELECT count(*) FROM pg_stat_activity").fetchone()[0] > 0  # pg_monitor
    with pg(identities.PG_GATES_CERT.user, **pg_cert()) as conn:  # certificate alone, CN = role
        assert conn.execute("SELECT count(*) FROM users").fetchone()[0] > 0


def _pg_write(sql: str, cert: bool = False) -> Callable[[], None]:
    def attempt() -> None:
        conn = pg(identities.PG_GATES_CERT.user, **pg_cert()) if cert else pg()
        with conn:
            # not only the session default: a client may turn it off, the privileges still refuse
            conn.execute("SET default_transaction_read_only = off")
            conn.execute(sql)

    return attempt


def _redis_reads() -> None:
    for port in (ports.REDIS, *ports.REDIS_CLUSTER):
        client = rd(port)
        assert client.ping()
        assert client.info("replication")
        assert "maxmemory" in client.config_get("maxmemory*")
    assert rd(ports.REDIS_CLUSTER[0]).execute_command("CLUSTER INFO")


def _redis_cmd(port: int, *cmd: str) -> Callable[[], None]:
    return lambda: rd(port).execute_command(*cmd)


def _ch_reads() -> None:
    assert int(ch("SELECT count() FROM nova.feed_ranking_events").text) > 0
    assert "feed_ranking_events" in ch("SHOW TABLES FROM nova").text


def _prom_reads() -> None:
    data = ok(http("GET", f"{PROM}/api/v1/query", G_PROM, params={"query": "vector(1)"})).json()
    assert data["status"] == "success" and data["data"]["result"]
    assert ok(http("GET", f"{PROM}/api/v1/rules", G_PROM)).json()["data"]["groups"]


def _am_reads() -> None:
    assert isinstance(ok(http("GET", f"{AM}/api/v2/alerts", G_AM)).json(), list)
    assert ok(http("GET", f"{AM}/api/v2/status", G_AM)).json()["config"]


def _os_reads() -> None:
    """What nova_gate/backends/search/source.py reads: health, indices, shards, allocation explain."""
    assert ok(http("GET", f"{OS}/_cluster/health", G_OS)).json()["status"] == "green"
    rows = ok(http("GET", f"{OS}/_cat/indices", G_OS, params={"format": "json", "h": "index,health"})).json()
    assert {"posts", "users", "hashtags"} <= {r["index"] for r in rows}
    assert ok(http("GET", f"{OS}/_cat/shards", G_OS, params={"format": "json"})).json()
    body = {"index": "posts", "shard": 0, "primary": True}
    assert ok(http("POST", f"{OS}/_cluster/allocation/explain", G_OS, json=body)).json()["current_state"]


def _os(method: str, path: str, **kw: Any) -> Callable[[], httpx.Response]:
    return lambda: ok(http(method, f"{OS}{path}", G_OS, **kw))


READS = {
    "opensearch": _os_reads,
    "postgres": _pg_reads,
    "redis": _redis_reads,
    "clickhouse": _ch_reads,
    "prometheus": _prom_reads,
    "alertmanager": _am_reads,
}

WRITES: dict[str, Callable[[], Any]] = {
    "postgres-insert": _pg_write("INSERT INTO users (email, username, password_hash) VALUES ('x@y', 'x', 'x')"),
    "postgres-update": _pg_write("UPDATE users SET username = username WHERE false"),
    "postgres-create-table": _pg_write("CREATE TABLE public.nova_gate_must_not_exist (id int)"),
    "postgres-create-temp": _pg_write("CREATE TEMP TABLE nova_gate_must_not_exist (id int)"),
    "postgres-cert-role-insert": _pg_write("INSERT INTO users (email, username, password_hash) "
                                           "VALUES ('x@y', 'x', 'x')", cert=True),
    "redis-set": _redis_cmd(ports.REDIS, "SET", "nova:gate:must-not-exist", "1"),
    "redis-get-key": _redis_cmd(ports.REDIS, "GET", "nova:feature:feed_ranking_v2"),  # no key access at all
    "redis-del": _redis_cmd(ports.REDIS, "DEL", "nova:feature:feed_ranking_v2"),
    "redis-flushdb": _redis_cmd(ports.REDIS, "FLUSHDB"),
    "redis-config-set": _redis_cmd(ports.REDIS, "CONFIG", "SET", "maxmemory", "0"),
    "redis-cluster-set": _redis_cmd(ports.REDIS_CLUSTER[0], "SET", "nova:gate:must-not-exist", "1"),
    "redis-cluster-forget": _redis_cmd(ports.REDIS_CLUSTER[0], "CLUSTER", "RESET"),
    "clickhouse-insert": lambda: ch("INSERT INTO nova.content_views VALUES (today(), 1, 1)"),
    "clickhouse-create": lambda: ch("CREATE TABLE nova.nova_gate_must_not_exist (a UInt8) ENGINE = Memory"),
    "clickhouse-alter": lambda: ch("ALTER TABLE nova.content_views DELETE WHERE 1"),
    "clickhouse-truncate": lambda: ch("TRUNCATE TABLE nova.content_views"),
    # Prometheus: the admin API, the lifecycle API and the remote-write receiver are off for everyone
    "prometheus-delete-series": lambda: ok(
        http("POST", f"{PROM}/api/v1/admin/tsdb/delete_series", G_PROM, params={"match[]": "up"})
    ),
    "prometheus-snapshot": lambda: ok(http("POST", f"{PROM}/api/v1/admin/tsdb/snapshot", G_PROM)),
    "prometheus-reload": lambda: ok(http("POST", f"{PROM}/-/reload", G_PROM)),
    "prometheus-quit": lambda: ok(http("POST", f"{PROM}/-/quit", G_PROM)),
    "prometheus-remote-write": lambda: ok(http("POST", f"{PROM}/api/v1/write", G_PROM, content=b"")),
    # OpenSearch: monitor only; no document in, none out, no index or cluster change
    "opensearch-index-doc": _os("PUT", "/posts/_doc/nova-gate-must-not-exist", json={"post_id": "x"}),
    "opensearch-bulk": _os("POST", "/_bulk", content=b'{"index": {"_index": "posts"}}\n{"post_id": "x"}\n',
                           headers={"content-type": "application/x-ndjson"}),
    "opensearch-delete-by-query": _os("POST", "/posts/_delete_by_query", json={"query": {"match_all": {}}}),
    "opensearch-create-index": _os("PUT", "/nova-gate-must-not-exist"),
    "opensearch-delete-index": _os("DELETE", "/hashtags"),
    "opensearch-settings": _os("PUT", "/posts/_settings", json={"index": {"number_of_replicas": 0}}),
    "opensearch-cluster-settings": _os("PUT", "/_cluster/settings",
                                       json={"transient": {"cluster.routing.allocation.enable": "none"}}),
    "opensearch-search-documents": _os("GET", "/posts/_search"),
    "opensearch-security-api": _os("GET", "/_plugins/_security/api/internalusers"),
}


@pytest.mark.parametrize("backend", sorted(READS))
def test_gates_identity_reads(backend: str) -> None:
    READS[backend]()


@pytest.mark.parametrize("case", sorted(WRITES))
def test_gates_identity_cannot_write(case: str) -> None:
    import psycopg
    import redis

    started = time.monotonic()
    refused = (psycopg.errors.InsufficientPrivilege, redis.exceptions.NoPermissionError, PermissionError)
    with pytest.raises(refused) as info:
        WRITES[case]()
    assert time.monotonic() - started < BUDGET_S
    assert not any(s in str(info.value) for s in SECRETS)


# ================================================================================================
# Wrong credentials and transport: refused, fast, no secret in the refusal
# ================================================================================================
def _pg_fails(**kw: Any) -> Callable[[], None]:
    def attempt() -> None:
        with pg(**kw) as conn:
            conn.execute("SELECT 1")

    return attempt


REFUSALS: dict[str, tuple[Callable[[], Any], str]] = {
    # (attempt, what the refusal is about: "auth" or "tls")
    "postgres-wrong-password": (_pg_fails(password=WRONG), "auth"),
    "postgres-unknown-user": (_pg_fails(user="nobody_i12", password=WRONG), "auth"),
    "postgres-superuser-over-tcp": (_pg_fails(user="postgres", password=WRONG), "auth"),
    "postgres-untrusted-ca": (_pg_fails(sslrootcert=bad_ca()), "tls"),
    "postgres-plaintext": (_pg_fails(sslmode="disable"), "any"),
    "postgres-cert-role-without-certificate": (_pg_fails(user=identities.PG_GATES_CERT.user, password=WRONG), "tls"),
    "postgres-cert-role-foreign-certificate": (
        _pg_fails(user=identities.PG_GATES_CERT.user, **pg_cert(untrusted=True)), "tls"),
    "postgres-certificate-of-another-role": (
        _pg_fails(user=identities.PG_GATES_CERT.user, **pg_cert("nova")), "auth"),
    "redis-wrong-password": (lambda: rd(password=WRONG), "auth"),
    "redis-unknown-user": (lambda: rd(user="nobody", password=WRONG), "auth"),
    "redis-default-user-off": (lambda: rd(user=None, password=""), "auth"),
    "redis-untrusted-ca": (lambda: rd(cafile=bad_ca()), "tls"),
    "redis-plaintext": (lambda: rd(tls=False), "any"),
    "redis-cluster-wrong-password": (lambda: rd(ports.REDIS_CLUSTER[1], password=WRONG), "auth"),
    "redis-cluster-untrusted-ca": (lambda: rd(ports.REDIS_CLUSTER[1], cafile=bad_ca()), "tls"),
    "clickhouse-wrong-password": (lambda: ch("SELECT 1", password=WRONG), "auth"),
    "clickhouse-unknown-user": (lambda: ch("SELECT 1", identities.Identity("clickhouse", "nobody", "", "x")), "auth"),
    "clickhouse-untrusted-ca": (lambda: ch("SELECT 1", verify=bad_ca()), "tls"),
    "clickhouse-plaintext": (lambda: httpx.post(CH.replace("https", "http"), content=b"SELECT 1", timeout=5), "any"),
    "prometheus-wrong-password": (
        lambda: ok(http("GET", f"{PROM}/api/v1/query", (G_PROM[0], WRONG), params={"query": "up"})), "auth"),
    "prometheus-no-credentials": (lambda: ok(http("GET", f"{PROM}/api/v1/query", None, params={"query": "up"})),
                                  "auth"),
    "prometheus-bearer-token": (
        lambda: ok(http("GET", f"{PROM}/api/v1/query", None, params={"query": "up"},
                        headers={"Authorization": "Bearer unknown-token"})), "auth"),
    "prometheus-untrusted-ca": (lambda: http("GET", f"{PROM}/-/ready", G_PROM, bad_ca()), "tls"),
    "prometheus-plaintext": (lambda: ok(httpx.get(f"http://{ports.HOST}:{ports.PROMETHEUS}/-/ready", timeout=5)),
                             "tls"),
    "alertmanager-wrong-password": (lambda: ok(http("GET", f"{AM}/api/v2/alerts", (G_AM[0], WRONG))), "auth"),
    "alertmanager-no-credentials": (lambda: ok(http("GET", f"{AM}/api/v2/alerts", None)), "auth"),
    "alertmanager-untrusted-ca": (lambda: http("GET", f"{AM}/-/ready", G_AM, bad_ca()), "tls"),
    "alertmanager-plaintext": (lambda: ok(httpx.get(f"http://{ports.HOST}:{ports.ALERTMANAGER}/-/ready", timeout=5)),
                               "tls"),
    "opensearch-wrong-password": (lambda: ok(http("GET", f"{OS}/_cluster/health", (G_OS[0], WRONG))), "auth"),
    "opensearch-unknown-user": (lambda: ok(http("GET", f"{OS}/_cluster/health", ("nobody", WRONG))), "auth"),
    "opensearch-no-credentials": (lambda: ok(http("GET", f"{OS}/_cluster/health", None)), "auth"),
    "opensearch-untrusted-ca": (lambda: http("GET", f"{OS}/_cluster/health", G_OS, bad_ca()), "tls"),
    "opensearch-plaintext": (lambda: ok(httpx.get(f"http://{ports.HOST}:{ports.OPENSEARCH_HTTP}/", timeout=5)),
                             "any"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_wrong_credentials_are_refused_fast(case: str) -> None:
    """Refused fast, no secret in the refusal, and nova_gate.auth names it rightly (TLS/unauthorised)."""
    from nova_gate.auth import TLS, UNAUTHORISED, failure_kind

    attempt, kind = REFUSALS[case]
    READS[case.split("-")[0]]()  # the control: the right identity gets in, so the refusal is the lock
    started = time.monotonic()
    with pytest.raises(Exception) as info:
        attempt()
    elapsed = time.monotonic() - started
    assert elapsed < BUDGET_S, f"{case}: took {elapsed:.1f}s"
    assert not any(s in str(info.value) for s in SECRETS), f"{case}: a secret in {info.value!r}"
    named = failure_kind(info.value, getattr(info.value, "status", None))
    if kind != "any":
        assert named == {"auth": UNAUTHORISED, "tls": TLS}[kind], f"{case}: named {named!r}: {info.value!r}"


def test_sandbox_reloads_prometheus_without_the_lifecycle_api() -> None:
    """The sandbox's own reloads (faults, scenarios) go by SIGHUP, twice in a row."""
    from nova_gate.sandbox.prometheus import Prometheus, api

    prom = Prometheus()
    for _ in range(2):
        prom.reload()
        assert api("/api/v1/status/runtimeinfo")["reloadConfigSuccess"] is True


def test_key_material_is_private() -> None:
    pki = Path(ca()).parent
    for key in pki.glob("*.key"):
        assert key.stat().st_mode & 0o077 == 0, key
    for path in (state_dir() / "redis" / "users.acl", state_dir() / "clickhouse" / "users.json",
                 state_dir() / "prometheus" / "web.yml", state_dir() / "alertmanager" / "web.yml",
                 state_dir() / "opensearch" / "config" / "opensearch-security" / "internal_users.yml",
                 state_dir() / "opensearch" / "config" / "node.key"):
        assert path.stat().st_mode & 0o077 == 0, path
    users = (state_dir() / "opensearch" / "config" / "opensearch-security" / "internal_users.yml").read_text()
    assert identities.SEARCH_GATES.password not in users and "$2" in users  # bcrypt, never the password
    acl = (state_dir() / "redis" / "users.acl").read_text()
    assert identities.REDIS_GATES.password not in acl  # hashed (#sha256), never the password


def test_plain_socket_to_tls_port_does_not_hang() -> None:
    """A client that connects and says nothing is dropped, and does not stall the next one."""
    reads = {ports.CLICKHOUSE_HTTP: _ch_reads, ports.PROMETHEUS: _prom_reads, ports.OPENSEARCH_HTTP: _os_reads}
    for port, read in reads.items():
        with socket.create_connection((ports.HOST, port), timeout=3):
            started = time.monotonic()
            read()
            assert time.monotonic() - started < BUDGET_S

