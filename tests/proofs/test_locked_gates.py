"""The gates on locked backends: they pass with only their read-only identity, and a wrong credential,
an unknown token, an untrusted CA or a missing client certificate is a one-line FAIL naming the backend
and "unauthorised" or "TLS" -- never a PASS, never a hang, never the secret.

PostgreSQL, Redis (standalone and cluster), the ClickHouse stand-in, Prometheus and Alertmanager, as
nova_gate/sandbox/* locks them (tests/proofs/test_locked_backends.py proves the servers themselves).
"""

from __future__ import annotations

import time

import pytest

from nova_gate.catalog import load_catalog
from nova_gate.sandbox.pki import sandbox_ca, untrusted_ca

BACKENDS = ("postgres", "redis", "clickhouse", "prometheus", "alertmanager")
#: preflight/predeploy/post-deploy probes: they judge the sandbox's standing state, so on the healthy
#: sandbox every one of them must PASS with the gates' read-only identity (the metric phases judge
#: traffic and are walked by the rehearsal)
STANDING_PHASES = ("preflight", "predeploy", "post_deploy")
#: judged without the backend's credentials: PRE-DB-4 reads the configured pgBackRest catalog, a file
CREDENTIAL_FREE = {"PRE-DB-4"}
ITEMS = {
    b: [
        i.id
        for i in load_catalog()
        if i.automated and i.verification == "probe" and i.backends == (b,) and i.id not in CREDENTIAL_FREE
    ]
    for b in BACKENDS
}
STANDING = sorted(
    i.id
    for i in load_catalog()
    if i.automated and i.verification == "probe" and i.phase in STANDING_PHASES and i.backends
    and set(i.backends) <= set(BACKENDS)
)
WRONG = "wrong-secret-i12-gates"
BUDGET_S = 240


@pytest.fixture
def scraped():
    """A Prometheus restarted a moment ago has targets "unknown" until it scrapes them once."""
    from nova_gate.rehearsal import _wait_for_scrapes

    _wait_for_scrapes(timeout_s=60)


def test_standing_gates_pass_with_only_the_read_only_identities(gate_run, scraped):
    run = gate_run(STANDING)
    labels = run.labels()
    failing = {i: label for i, label in labels.items() if label not in ("PASS", "WARN")}
    assert not failing, f"with the read-only identities: {failing}\n{run.explain()}"


def _untrusted() -> str:
    return str(untrusted_ca().cert)


def _cases() -> dict[str, tuple[dict[str, object], dict[str, str], dict[str, str]]]:
    """case -> (environment changes, environment variables, {backend: the word its reasons carry})."""
    bad_ca = {"ca_file": _untrusted()}
    return {
        "wrong-password": (
            {},
            {
                "NOVA_GATE_PG_PASSWORD": WRONG,
                "NOVA_GATE_REDIS_PASSWORD": WRONG,
                "NOVA_GATE_CLICKHOUSE_PASSWORD": WRONG,
                "NOVA_GATE_PROMETHEUS_PASSWORD": WRONG,
                "NOVA_GATE_ALERTMANAGER_PASSWORD": WRONG,
            },
            dict.fromkeys(BACKENDS, "unauthorised"),
        ),
        "untrusted-ca": (
            {
                "backends.postgres.tls": bad_ca,
                "backends.postgres_staging.tls": bad_ca,
                "backends.redis.tls": bad_ca,
                "backends.clickhouse.tls": bad_ca,
                "backends.prometheus.tls": bad_ca,
                "backends.alertmanager.tls": bad_ca,
            },
            {},
            dict.fromkeys(BACKENDS, "TLS"),
        ),
        "unknown-token-and-missing-client-certificate": (
            {
                # Prometheus/Alertmanager: a bearer token nobody issued
                "backends.prometheus.auth": {"token": "${NOVA_GATE_I12_TOKEN}"},
                "backends.alertmanager.auth": {"token": "${NOVA_GATE_I12_TOKEN}"},
                # PostgreSQL: the certificate-only role, without its certificate
                "backends.postgres.user": "nova_gate_cert",
                "backends.postgres_staging.user": "nova_gate_cert",
                # Redis/ClickHouse: no credentials at all (Redis' default user is off)
                "backends.redis.username": None,
                "backends.redis.password": None,
                "backends.clickhouse.user": "default",
                "backends.clickhouse.password": None,
            },
            {"NOVA_GATE_I12_TOKEN": WRONG},
            {"postgres": "TLS", "redis": "unauthorised", "clickhouse": "unauthorised",
             "prometheus": "unauthorised", "alertmanager": "unauthorised"},
        ),
    }


@pytest.mark.parametrize("case", ["wrong-password", "untrusted-ca", "unknown-token-and-missing-client-certificate"])
def test_refused_credentials_fail_in_one_line(case, gate_run, env_file, monkeypatch):
    changes, variables, words = _cases()[case]
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    env = env_file(changes)
    items = sorted({i for b in BACKENDS for i in ITEMS[b]})
    started = time.monotonic()
    run = gate_run(items, env_file=env, timeout=BUDGET_S + 60)
    elapsed = time.monotonic() - started
    labels = run.labels()
    assert set(labels) == set(items)
    passing = sorted(i for i, label in labels.items() if label in ("PASS", "WARN"))
    assert not passing, f"{case}: passed with refused credentials: {passing}\n{run.explain()}"
    reasons = run.decision["reasons"]
    for backend, word in words.items():
        for item in ITEMS[backend]:
            text = " ".join(reasons.get(item, []))
            assert f"{backend}: {word}" in text, f"{case}: {item} does not say '{backend}: {word}': {text[:300]}"
            assert all("\n" not in r for r in reasons.get(item, []))
    assert WRONG not in run.output and "Traceback" not in run.output
    assert elapsed < BUDGET_S, f"{case}: {elapsed:.0f}s"
    print(f"{case}: {len(items)} items FAIL in {elapsed:.1f}s")


def test_client_certificate_role_passes_with_its_certificate(gate_run, env_file):
    """PostgreSQL's certificate-only role: with its certificate (CN = role) the database gates pass."""
    ca = sandbox_ca()
    pair = ca.client("pg-nova_gate_cert", "nova_gate_cert")
    tls = {"ca_file": str(ca.cert), "cert_file": str(pair.cert), "key_file": str(pair.key)}
    env = env_file({
        "backends.postgres.user": "nova_gate_cert", "backends.postgres.password": None, "backends.postgres.tls": tls,
        "backends.postgres_staging.user": "nova_gate_cert", "backends.postgres_staging.password": None,
        "backends.postgres_staging.tls": tls,
    })
    items = [i for i in STANDING if i in ITEMS["postgres"]]
    run = gate_run(items, env_file=env)
    failing = {i: label for i, label in run.labels().items() if label not in ("PASS", "WARN")}
    assert not failing, run.explain()
