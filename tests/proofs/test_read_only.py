"""Never harm production: the gate's PostgreSQL sessions cannot write, even as a role that could."""

from __future__ import annotations

import psycopg
import pytest

from nova_gate.backends.postgres.source import PostgresSource
from nova_gate.config import load_environment


def test_probe_session_refuses_writes():
    cfg = load_environment("sandbox").env.backends.postgres
    assert cfg is not None
    with PostgresSource(cfg) as source:
        assert source.session_is_read_only()
        conn = source._connect(cfg.host, cfg.port)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("CREATE TABLE nova_gate_must_not_exist (id int)")


def test_read_only_even_with_the_owner_role(monkeypatch):
    """The session settings, not only the role, keep a probe read-only (defence in depth)."""
    monkeypatch.setenv("NOVA_GATE_PG_PASSWORD", "sandbox-owner-secret")
    env = load_environment("sandbox").env
    assert env.backends.postgres is not None
    cfg = env.backends.postgres.model_copy(update={"user": "nova"})
    with PostgresSource(cfg) as source:
        conn = source._connect(cfg.host, cfg.port)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("CREATE TABLE nova_gate_must_not_exist (id int)")
