"""Nothing secret leaves the process: plant unique credentials, run the phases that touch them, grep
every artifact (evidence, decision, HTML, JUnit, terminal output with DEBUG logs): 0 hits."""

from __future__ import annotations

import re
import secrets

SANDBOX_SECRETS = [
    "sandbox-ro-secret", "sandbox-grafana-token", "sandbox-vault-token", "sandbox-kafka-ro", "sandbox-registry-ro",
]  # fmt: skip
# every item whose backend takes a credential (PostgreSQL, Redis, ClickHouse, Kafka, Prometheus,
# Alertmanager, OpenSearch, the registry, Kubernetes, S3, Grafana, Vault), and the smoke journey
# (receives a JWT, sends a password)
ITEMS = ["PST-3", "PST-4", "PST-5", "PST-6", "PST-7", "PD-2", "PRE-CFG-2", "PRE-CFG-3", "PRE-CFG-4", "PRE-MON-2",
         "PRE-INF-4", "IMG-1", "PRE-CFG-6", "PRE-CFG-7", "PRE-MON-1", "PRE-MON-3", "PRE-CFG-1",
         "PRE-INF-6"]  # fmt: skip
PLANTED_ENV = ("NOVA_GATE_PG_PASSWORD", "NOVA_GATE_GRAFANA_TOKEN", "NOVA_GATE_VAULT_TOKEN", "NOVA_GATE_KAFKA_PASSWORD",
               "NOVA_GATE_REGISTRY_PASSWORD", "NOVA_GATE_REDIS_PASSWORD", "NOVA_GATE_CLICKHOUSE_PASSWORD",
               "NOVA_GATE_PROMETHEUS_PASSWORD", "NOVA_GATE_ALERTMANAGER_PASSWORD",
               "NOVA_GATE_SEARCH_PASSWORD")  # fmt: skip


def _sandbox_secrets() -> list[str]:
    """The literal defaults above, every identity's password (admin ones too: they must not reach a
    gate at all) and its HTTP basic-auth token, the gates' S3 secret."""
    from nova_gate.sandbox import identities
    from nova_gate.sandbox import s3 as sandbox_s3

    found = [*SANDBOX_SECRETS]
    for v in vars(identities).values():
        if isinstance(v, identities.Identity) and v.password:
            found += [v.password, identities.basic_auth_header(v)["Authorization"].split()[1]]
    found.append(sandbox_s3.profile_keys(sandbox_s3.GATES)[1])
    return sorted(set(found))


JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}")
BEARER = re.compile(r"(?i)bearer\s+(?!\*\*\*)[A-Za-z0-9._~+/=-]{6,}")
CRED_VALUE = re.compile(r'"(?:password|access_token|refresh_token|token|authorization)"\s*:\s*"(?!\*\*\*)[^"]+"', re.I)


def _artifacts(run) -> dict[str, str]:
    files = {p.name: p.read_text(encoding="utf-8", errors="replace") for p in run.reports.rglob("*") if p.is_file()}
    files["<terminal>"] = run.output
    return files


def _hits(run, needles: list[str]) -> list[str]:
    found = []
    for name, text in _artifacts(run).items():
        found += [f"{name}: {n!r}" for n in needles if n in text]
        found += [f"{name}: JWT {m.group()[:20]}…" for m in JWT.finditer(text)]
        found += [f"{name}: {m.group()[:30]}…" for m in BEARER.finditer(text)]
        found += [f"{name}: {m.group()[:40]}…" for m in CRED_VALUE.finditer(text)]
    return found


def test_healthy_run_leaks_no_secret_nor_received_token(gate_run):
    run = gate_run(ITEMS, "--log-level=DEBUG", "-rA")
    labels = run.labels()
    assert labels["PST-4"] == "PASS", run.explain()  # the journey really received a token
    assert len(_artifacts(run)) >= 6
    assert _hits(run, _sandbox_secrets()) == []


def test_planted_credentials_never_appear(gate_run, monkeypatch):
    from nova_gate.sandbox import identities

    planted = {name: f"planted-{name.lower()}-{secrets.token_hex(8)}" for name in PLANTED_ENV}
    for name, value in planted.items():
        monkeypatch.setenv(name, value)
    run = gate_run(ITEMS, "--log-level=DEBUG", "-rA")
    labels = run.labels()
    assert labels["PST-7"] == "FAIL", run.explain()  # the planted password was really used
    assert labels["PRE-INF-6"] == "FAIL", run.explain()  # and the planted search password too
    # the planted password as it went over the wire: the basic-auth token of the search user
    basic = identities.basic_auth_header(identities.SEARCH_GATES)["Authorization"].split()[1]
    assert _hits(run, [*planted.values(), basic]) == []
