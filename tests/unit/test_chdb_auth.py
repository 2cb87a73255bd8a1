"""The ClickHouse stand-in, locked: users and passwords, readonly for the gates, HTTPS from the local CA.

Its own server on a free port and a temporary data directory (never the shared sandbox's), spoken
to with clickhouse-connect, the gates' driver.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("chdb")
clickhouse_connect = pytest.importorskip("clickhouse_connect")

from clickhouse_connect.driver.exceptions import ClickHouseError  # noqa: E402

from nova_gate.config import project_root  # noqa: E402
from nova_gate.sandbox import identities  # noqa: E402
from nova_gate.sandbox.clickhouse import users_doc  # noqa: E402
from nova_gate.sandbox.pki import LocalCA, untrusted_ca  # noqa: E402
from nova_gate.testing import free_port  # noqa: E402

ADMIN, GATES = identities.CH_ADMIN, identities.CH_GATES


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, LocalCA, Path]]:
    root = tmp_path_factory.mktemp("chdb")
    ca = LocalCA(root / "pki")
    pair = ca.server("clickhouse")
    users = root / "users.json"
    users.write_text(json.dumps(users_doc()))
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "nova_gate.sandbox.chdb_server", "--data", str(root / "data"), "--port", str(port),
         "--users", str(users), "--tls-cert", str(pair.cert), "--tls-key", str(pair.key)],
        cwd=project_root(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.2)
        admin = _client(port, ca.cert, ADMIN.user, ADMIN.password)
        admin.command("CREATE DATABASE IF NOT EXISTS nova")
        admin.command("CREATE TABLE IF NOT EXISTS nova.t (a UInt64) ENGINE = MergeTree ORDER BY a")
        admin.command("INSERT INTO nova.t SELECT number FROM numbers(10)")
        yield port, ca, root
    finally:
        proc.terminate()
        proc.wait(10)


def _client(port: int, ca: Path | None, user: str, password: str, **kw: object) -> object:
    return clickhouse_connect.get_client(
        host="127.0.0.1", port=port, username=user, password=password, secure=True,
        ca_cert=str(ca) if ca else None, connect_timeout=3, send_receive_timeout=5, **kw,
    )


def test_gates_user_reads(server: tuple[int, LocalCA, Path]) -> None:
    port, ca, _ = server
    client = _client(port, ca.cert, GATES.user, GATES.password)
    assert client.query("SELECT count() FROM nova.t").result_rows == [(10,)]  # type: ignore[attr-defined]
    assert client.query("SHOW TABLES FROM nova").result_rows  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO nova.t VALUES (1)",
        "CREATE TABLE nova.x (a UInt8) ENGINE = Memory",
        "ALTER TABLE nova.t DELETE WHERE 1",
        "TRUNCATE TABLE nova.t",
        "DROP TABLE nova.t",
        "OPTIMIZE TABLE nova.t",
        "SYSTEM FLUSH LOGS",
        "SET max_threads = 1",
        "this is not sql",
    ],
)
def test_gates_user_cannot_write(server: tuple[int, LocalCA, Path], statement: str) -> None:
    port, ca, _ = server
    client = _client(port, ca.cert, GATES.user, GATES.password)
    with pytest.raises(ClickHouseError, match="READONLY"):
        client.command(statement)  # type: ignore[attr-defined]
    with pytest.raises(ClickHouseError, match="READONLY"):  # nor through a body insert
        client.insert("nova.t", [[99]], column_names=["a"])  # type: ignore[attr-defined]
    admin = _client(port, ca.cert, ADMIN.user, ADMIN.password)
    assert admin.query("SELECT count() FROM nova.t").result_rows == [(10,)]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("user", "password"),
    [(GATES.user, "wrong-password"), ("nobody", GATES.password), ("default", "")],
    ids=["wrong-password", "unknown-user", "no-credentials"],
)
def test_wrong_credentials_refused(server: tuple[int, LocalCA, Path], user: str, password: str) -> None:
    port, ca, _ = server
    started = time.monotonic()
    with pytest.raises(ClickHouseError) as info:
        _client(port, ca.cert, user, password)
    assert "AUTHENTICATION_FAILED" in str(info.value) or "516" in str(info.value)
    assert "wrong-password" not in str(info.value)
    assert time.monotonic() - started < 10


def test_untrusted_ca_refused(server: tuple[int, LocalCA, Path]) -> None:
    port, _, root = server
    with pytest.raises(Exception, match=r"(?i)certificate|ssl"):
        _client(port, untrusted_ca(root).cert, GATES.user, GATES.password)


def test_plain_http_gets_no_answer(server: tuple[int, LocalCA, Path]) -> None:
    port, _, _ = server
    with pytest.raises(Exception):  # noqa: B017 - any failure, never an answer
        clickhouse_connect.get_client(
            host="127.0.0.1", port=port, username=GATES.user, password=GATES.password,
            connect_timeout=3, send_receive_timeout=5,
        )
