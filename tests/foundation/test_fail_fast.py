"""Fail fast: a backend that does not answer is asked once per session (per endpoint), then every
test that needs it fails at once with the same one-line reason. Proven structurally — the black
hole counts the connections it was sent — not by timing."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr

from nova_gate.backends.base import SourceError, is_unreachable
from nova_gate.backends.http.source import HttpSource
from nova_gate.catalog import PHASES, load_catalog
from nova_gate.config import Release, Service
from nova_gate.sandbox.faultproxy import FaultProxy
from nova_gate.testing import run_gate, sandbox_document

ROOT = Path(__file__).resolve().parents[2]


def test_one_black_holed_endpoint_is_waited_on_once():
    with FaultProxy("blackhole") as hole:
        names = [f"svc-{i}" for i in range(11)]
        release = Release(
            version="v1",
            baseline_version="v0",
            base_url=f"http://127.0.0.1:{hole.port}",
            services=[Service(name=n, port=1000 + i) for i, n in enumerate(names)],
        )
        source = HttpSource(release, timeout_s=0.5)
        try:
            errors = []
            for name in names:
                with pytest.raises(SourceError) as err:
                    source.health(name)
                errors.append(str(err.value))
        finally:
            source.close()
    assert hole.connections == 1, hole.connections
    assert all("timed out" in e.lower() or "timeout" in e.lower() for e in errors), errors
    assert all("not retried" in e for e in errors[1:]) and "not retried" not in errors[0]


@pytest.mark.parametrize("protocol", ["SSL", "SASL_SSL", "PLAINTEXT"])
def test_black_holed_kafka_brokers_cost_the_timeout_once(protocol):
    """kafka-python's TLS handshake had no deadline: black-holed brokers hung the admin client's
    bootstrap for good (nova_gate.kafka_compat.bound_tls_handshake)."""
    import time

    from nova_gate.backends.kafka.config import Kafka
    from nova_gate.backends.kafka.source import KafkaSource

    with FaultProxy("blackhole") as a, FaultProxy("blackhole") as b, FaultProxy("blackhole") as c:
        creds = {"username": "u", "password": "p"} if protocol.startswith("SASL") else {}
        cfg = Kafka(
            bootstrap_servers=[f"127.0.0.1:{p.port}" for p in (a, b, c)],
            timeout_s=1,
            security_protocol=protocol,
            **creds,
        )
        source = KafkaSource(cfg)
        try:
            started = time.monotonic()
            with pytest.raises(SourceError) as first:
                source.cluster()
            took = time.monotonic() - started
            with pytest.raises(SourceError) as again:
                source.topic_names()
        finally:
            source.close()
    assert took < 8, f"{protocol}: {took:.1f} s for a 1 s timeout"
    assert first.value.unreachable and "not retried" in str(again.value)


@pytest.mark.parametrize("backend", ["secretsmanager", "s3"])
def test_a_black_holed_aws_endpoint_is_asked_once_not_retried_by_botocore(backend):
    """botocore's ``retries.max_attempts`` counts retries: 1 meant two attempts, each its own read
    timeout (preflight's Secrets Manager check waited 20 s on a black hole). Secrets Manager has a
    probe of its own (it had none: its check waited its timeout after every other probe's)."""
    from nova_gate.backends.s3.source import S3Source
    from nova_gate.backends.secretsmanager.source import SecretsManagerSource
    from nova_gate.config import load_environment

    make = {"secretsmanager": SecretsManagerSource, "s3": S3Source}[backend]
    with FaultProxy("blackhole") as hole:
        cfg = getattr(load_environment(str(ROOT / "environments" / "sandbox.yaml")).env.backends, backend)
        # keys of its own: the sandbox's profile files exist only once the sandbox has been set up
        keys = {"profile": None, "config_file": None, "credentials_file": None, "access_key_id": "AKIAFAILFAST"}
        keys["secret_access_key"] = SecretStr("not-a-secret")
        source = make(
            cfg.model_copy(update={"endpoint": f"http://127.0.0.1:{hole.port}", "timeout_s": 1, **keys})
        )
        try:
            with pytest.raises(SourceError) as err:
                source.probe() if backend == "secretsmanager" else source.ask("probe ListBuckets", "list_buckets")
            with pytest.raises(SourceError) as again:  # the check after the probe: not waited on again
                if backend == "s3":
                    source.ask("HEAD bucket", "head_bucket", Bucket="nova-media")
                else:
                    source.describe("nova/prod/database-url")
        finally:
            source.close()
        connections = hole.connections
    assert connections == 1, f"{backend}: {connections} attempts"
    assert err.value.unreachable and "not retried" in str(again.value)


def test_backends_reached_through_an_alias_are_probed_too():
    """``kafka`` and ``search`` are aliases that reach ``nova_kafka``/``nova_search`` at run time,
    outside pytest's fixture closure: their backends were never probed, so a black-holed Kafka or
    OpenSearch cost each phase its timeout again in the first test that asked (preflight: +20 s)."""
    from fixtures.backends import probed_fixtures
    from nova_gate.fixture_factory import ALIASES, PROBED_FIXTURES

    class Item:
        def __init__(self, *names: str) -> None:
            self.fixturenames = list(names)

    items = [Item("kafka", "env", "gate"), Item("search"), Item("kube", "postgres")]
    wanted = ("nova_kafka", "nova_search", "kube", "postgres")
    assert probed_fixtures(items) == [n for n in PROBED_FIXTURES if n in wanted]
    assert set(probed_fixtures([Item(*ALIASES, *PROBED_FIXTURES)])) == set(PROBED_FIXTURES)
    # an alias' target that needs a backend of its own: ``windows`` -> ``nova_windows`` -> prometheus
    # (canary_gate and scale_gate waited a second timeout on a black-holed Prometheus in their first
    # metric test, after the probe's)
    arguments = {"windows": ["request"], "nova_windows": ["prometheus", "nova_env"]}
    assert probed_fixtures([Item("windows")], lambda name: arguments.get(name, [])) == ["prometheus"]


def test_refused_marks_down_but_a_bad_answer_does_not():
    assert is_unreachable(ConnectionRefusedError(111, "Connection refused"))
    assert is_unreachable(TimeoutError("timed out"))
    assert not is_unreachable(ValueError("canceling statement due to statement timeout"))
    assert not is_unreachable(ValueError("HTTP 404: no such index"))


#: items the catalog lists under a backend whose check does not read it. MON-6 ("no connection
#: pool exhaustion", postgres,prometheus) reads PostgreSQL's connections at one instant only: the
#: services' pool metrics over the stability window are not read (the sandbox's services export none)
NOT_READ = {"prometheus": {"MON-6"}}


def _dead_backend_cases() -> list[tuple[str, str]]:
    # one gate run per phase: a phase is what a release runs, and what one phase's tests reach a
    # backend through (a fixture, an alias, an alias' target) is what its probe has to find
    return sorted(
        {(b, i.phase) for i in load_catalog() if i.automated for b in i.backends}
        & {(b, p) for b in ("prometheus", "alertmanager", "search") for p in PHASES}
    )


@pytest.mark.parametrize(("backend", "phase"), _dead_backend_cases())
def test_a_single_dead_backend_is_asked_once_in_a_gate_run(backend, phase, tmp_path):
    """Asked once, and by the probe before the first test: every test's reason is the shared one
    (``not retried``), none waited on the backend itself, whichever fixture path reaches it."""
    tag = backend  # the registry name is also the marker and the environment key
    items = [i.id for i in load_catalog() if tag in i.backends and i.automated and i.phase == phase]
    assert items
    doc = copy.deepcopy(sandbox_document(ROOT))
    with FaultProxy("blackhole") as hole:
        scheme = doc["backends"][backend]["url"].split("://", 1)[0]  # https where the backend has TLS
        doc["backends"][backend]["url"] = f"{scheme}://127.0.0.1:{hole.port}"
        doc["backends"][backend]["timeout_s"] = 2
        env = tmp_path / "env.yaml"
        env.write_text(yaml.safe_dump(doc))
        reports = tmp_path / "reports"
        proc = run_gate(root=ROOT, env_file=env, reports=reports, items=items)
        connections = hole.connections
    decision = json.loads((reports / "decision.json").read_text())
    assert "Traceback" not in proc.stdout + proc.stderr
    passed = {i for i, v in decision["items"].items() if v in ("PASS", "WARN") and i in items}
    assert passed == NOT_READ.get(backend, set()) & set(items), passed
    assert connections <= 1, f"{backend} was asked {connections} times"
    reasons = [r for rs in decision["reasons"].values() for r in rs]
    assert any(backend in r for r in reasons), reasons
    waited = [r for r in reasons if f" {backend}:" in r and "not retried" not in r]
    assert not waited, f"{len(waited)} tests waited on {backend} themselves, first: {waited[0]}"
