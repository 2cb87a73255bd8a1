"""Who may do what on the sandbox's locked backends: one admin, one read-only gates identity, one app.

As in production, three kinds of account per backend:

- ``admin``: the sandbox itself (bootstrap, seeding, faults, history backfill, reloads). Never given
  to the gates.
- ``gates``: what environments/sandbox.yaml hands the gates: read-only, least privilege.
- ``app``: the simulated Nova services and the smoke journey (they write).

Passwords are sandbox defaults, overridable by the environment variable named on each identity
(the same ``${NAME:-default}`` reference environments/sandbox.yaml uses), so a proof can run the
gates with the very value the server was given. They are never printed.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Identity:
    backend: str
    user: str
    env: str
    default: str

    @property
    def password(self) -> str:
        return os.environ.get(self.env) or self.default

    def sha256(self) -> str:
        return hashlib.sha256(self.password.encode()).hexdigest()

    def __repr__(self) -> str:  # never the password
        return f"Identity({self.backend}:{self.user})"


# PostgreSQL (roles made by nova_gate/sandbox/postgres.py; the owner and smoke roles live there)
PG_GATES = Identity("postgres", "nova_gate_ro", "NOVA_GATE_PG_PASSWORD", "sandbox-ro-secret")
#: a role that logs in with a client certificate only (pg_hba ``cert``): the mTLS proof
PG_GATES_CERT = Identity("postgres", "nova_gate_cert", "", "")

# Redis (ACL file written by nova_gate/sandbox/redis.py)
REDIS_ADMIN = Identity("redis", "nova-admin", "NOVA_GATE_REDIS_ADMIN_PASSWORD", "sandbox-redis-admin-secret")
REDIS_GATES = Identity("redis", "nova-gate-ro", "NOVA_GATE_REDIS_PASSWORD", "sandbox-redis-ro-secret")
REDIS_APP = Identity("redis", "nova-app", "NOVA_GATE_REDIS_APP_PASSWORD", "sandbox-redis-app-secret")

# ClickHouse stand-in (users file written by nova_gate/sandbox/clickhouse.py)
CH_ADMIN = Identity("clickhouse", "nova_admin", "NOVA_GATE_CLICKHOUSE_ADMIN_PASSWORD", "sandbox-ch-admin-secret")
CH_GATES = Identity("clickhouse", "nova_gate_ro", "NOVA_GATE_CLICKHOUSE_PASSWORD", "sandbox-ch-ro-secret")

# Prometheus and Alertmanager (--web.config.file written by their components)
PROM_ADMIN = Identity("prometheus", "nova-admin", "NOVA_GATE_PROMETHEUS_ADMIN_PASSWORD", "sandbox-prom-admin-secret")
PROM_GATES = Identity("prometheus", "nova-gate", "NOVA_GATE_PROMETHEUS_PASSWORD", "sandbox-prom-ro-secret")
AM_ADMIN = Identity("alertmanager", "nova-admin", "NOVA_GATE_ALERTMANAGER_ADMIN_PASSWORD", "sandbox-am-admin-secret")
AM_GATES = Identity("alertmanager", "nova-gate", "NOVA_GATE_ALERTMANAGER_PASSWORD", "sandbox-am-ro-secret")

# OpenSearch (the security plugin's internal users, written by nova_gate/sandbox/opensearch.py)
SEARCH_ADMIN = Identity("search", "nova-admin", "NOVA_GATE_SEARCH_ADMIN_PASSWORD", "sandbox-search-admin-secret")
SEARCH_GATES = Identity("search", "nova-gate", "NOVA_GATE_SEARCH_PASSWORD", "sandbox-search-ro-secret")


def bcrypt_hash(password: str, rounds: int = 10) -> str:
    """A bcrypt hash (``$2b$``) for Prometheus' and Alertmanager's ``basic_auth_users`` and
    OpenSearch's internal users."""
    try:
        import bcrypt
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise RuntimeError("the bcrypt package is needed for Prometheus' web config: pip install bcrypt") from exc
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()


def web_config(path: object, users: tuple[Identity, ...], cert: object, key: object) -> None:
    """Write a Prometheus/Alertmanager ``--web.config.file``: TLS, and bcrypt basic-auth users.

    Kept when every user's hash still matches its password (bcrypt is slow by design, and the
    server re-reads the file on every request: a rewrite at each start would be churn).
    """
    from pathlib import Path

    import yaml

    target = Path(str(path))
    current: dict[str, str] = {}
    try:
        doc = yaml.safe_load(target.read_text()) or {}
        current = dict(doc.get("basic_auth_users") or {})
        same_tls = doc.get("tls_server_config", {}).get("cert_file") == str(cert)
    except (OSError, yaml.YAMLError, AttributeError):
        same_tls = False
    same_users = set(current) == {u.user for u in users}
    if same_tls and same_users and all(_bcrypt_ok(u.password, current[u.user]) for u in users):
        return
    doc = {
        "tls_server_config": {"cert_file": str(cert), "key_file": str(key), "min_version": "TLS12"},
        "basic_auth_users": {u.user: bcrypt_hash(u.password) for u in users},
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("# written by nova-gate's sandbox: TLS and basic auth (bcrypt)\n")
        fh.write(yaml.safe_dump(doc, sort_keys=False))


def _bcrypt_ok(password: str, hashed: str) -> bool:
    import bcrypt

    try:
        return bool(bcrypt.checkpw(password.encode(), hashed.encode()))
    except ValueError:
        return False


def basic_auth_header(identity: Identity) -> dict[str, str]:
    import base64

    token = base64.b64encode(f"{identity.user}:{identity.password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}
