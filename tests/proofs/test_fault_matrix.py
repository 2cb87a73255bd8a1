"""The fault matrix, generated from the catalog: every automated probe x every kind of backend fault.

Every endpoint of the sandbox environment is put behind a local fault proxy on 127.0.0.1
(nova_gate/sandbox/faultproxy.py): refused, black-holed (accepts, never answers), empty answer
(accept and close), malformed (an HTML 502 page where JSON or a wire protocol is expected),
truncated (the real server's answer cut short) and slower than the timeout (the real server behind
a delaying proxy); plus wrong credentials on every backend that has any. Each cell must be FAIL or
INCONCLUSIVE with a one-line reason naming the backend: never PASS, never an internal error.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import yaml

from nova_gate.catalog import load_catalog
from nova_gate.policy import attest
from nova_gate.sandbox.faultproxy import FaultedEnvironment
from nova_gate.testing import run_gate, sandbox_document

ROOT = Path(__file__).resolve().parents[2]
CATALOG = load_catalog()
PROBES = [i.id for i in CATALOG if i.automated and i.verification == "probe"]
MODES = ["refused", "blackhole", "empty", "html", "truncate", "slow"]
#: words that name a backend in a reason (the source's name or the thing it talks to)
BACKEND_WORDS = re.compile(
    r"postgres|replica|redis|kafka|broker|clickhouse|search|opensearch|elastic|prometheus|alertmanager|"
    r"registry|kubernetes|kube|grafana|vault|s3|secretsmanager|pagerduty|http|jwks|service|smoke|health",
    re.I,
)
#: backends the gates log in to (every one has a wrong-credential cell)
CREDENTIALED = {
    "postgres",
    "redis",
    "clickhouse",
    "kafka",
    "search",
    "prometheus",
    "alertmanager",
    "registry",
    "grafana",
    "vault",
    "s3",
    "secretsmanager",
    "pagerduty",
}


def _run(env_file: Path, reports: Path, items: list[str], extra: dict[str, str] | None = None):
    proc = run_gate(root=ROOT, env_file=env_file, reports=reports, items=items, timeout=600, env=extra)
    decision = json.loads((reports / "decision.json").read_text())
    return proc, decision


def _check(decision: dict, output: str, items: list[str]) -> list[str]:
    problems = []
    if "Traceback" in output:
        at = output.index("Traceback")
        problems.append(f"a traceback in the output: {output[max(0, at - 300) : at + 1500]}")
    for item in items:
        label = decision["items"].get(item)
        reasons = decision["reasons"].get(item, [])
        if label not in ("FAIL", "INCONCLUSIVE"):
            problems.append(f"{item}: {label}")
            continue
        for reason in reasons:
            text = reason.split(": ", 1)[-1]
            if "check crashed" in text:
                problems.append(f"{item}: internal error: {text[:160]}")
            elif "\n" in text:
                problems.append(f"{item}: multi-line reason")
            elif not BACKEND_WORDS.search(text):
                problems.append(f"{item}: reason names no backend: {text[:160]}")
    return problems


@pytest.mark.parametrize("mode", MODES)
def test_every_probe_fails_closed_under_the_fault(mode, tmp_path):
    doc = sandbox_document(ROOT)
    doc["backends"]["postgres"].pop("backup_catalog", None)  # PRE-DB-4 then asks postgres itself
    with FaultedEnvironment(doc, mode, tmp_path, delay_s=30) as faulted:
        env_file = faulted.write()
        proc, decision = _run(env_file, tmp_path / "reports", PROBES)
    problems = _check(decision, proc.stdout + proc.stderr, PROBES)
    assert not problems, "\n".join(problems)
    print(f"fault {mode}: {len(PROBES)} probes, all FAIL/INCONCLUSIVE")


def test_wrong_credentials_on_every_backend_that_has_any(tmp_path):
    items = [i for i in PROBES if set(CATALOG[i].backends) & CREDENTIALED]
    items += ["PRE-MON-2", "PRE-CFG-2", "PRE-CFG-4", "PRE-MON-5"]  # grafana, vault + secretsmanager, s3, pagerduty
    items = list(dict.fromkeys(items))
    doc = copy.deepcopy(sandbox_document(ROOT))
    doc["backends"]["postgres"].pop("backup_catalog", None)
    # PRE-MON-5 is PagerDuty's on-call and a person's attestation: sign it, so the item is judged on
    # PagerDuty (the sandbox's own attestations file exists only after a main job has signed it)
    doc["files"]["attestations"] = str(tmp_path / "attestations.yaml")
    (tmp_path / "signing.yaml").write_text(yaml.safe_dump(doc))
    attest("PRE-MON-5", "sandbox-proof", "the proof signs it as a person would", env=str(tmp_path / "signing.yaml"))
    # S3: the gates' real access key with a wrong secret (the chain's static keys win over the profile)
    from nova_gate.sandbox import s3 as sandbox_s3

    doc["backends"]["s3"]["access_key_id"] = sandbox_s3.profile_keys(sandbox_s3.GATES)[0]
    doc["backends"]["s3"]["secret_access_key"] = "${NOVA_GATE_S3_SECRET}"
    doc["backends"]["secretsmanager"]["access_key_id"] = sandbox_s3.profile_keys(sandbox_s3.GATES)[0]
    doc["backends"]["secretsmanager"]["secret_access_key"] = "${NOVA_GATE_S3_SECRET}"
    env_file = tmp_path / "env.yaml"
    env_file.write_text(yaml.safe_dump(doc))
    wrong = {
        "NOVA_GATE_PG_PASSWORD": "wrong-pg-password",
        "NOVA_GATE_REDIS_PASSWORD": "wrong-redis-password",
        "NOVA_GATE_CLICKHOUSE_PASSWORD": "wrong-clickhouse-password",
        "NOVA_GATE_PROMETHEUS_PASSWORD": "wrong-prometheus-password",
        "NOVA_GATE_ALERTMANAGER_PASSWORD": "wrong-alertmanager-password",
        "NOVA_GATE_GRAFANA_TOKEN": "wrong-grafana-token",
        "NOVA_GATE_VAULT_TOKEN": "wrong-vault-token",
        "NOVA_GATE_S3_SECRET": "wrong-s3-secret",
        "NOVA_GATE_PAGERDUTY_TOKEN": "wrong-pagerduty-token",
        "NOVA_GATE_KAFKA_PASSWORD": "wrong-kafka-password",
        "NOVA_GATE_REGISTRY_PASSWORD": "wrong-registry-password",
        "NOVA_GATE_SEARCH_PASSWORD": "wrong-search-password",
    }
    proc, decision = _run(env_file, tmp_path / "reports", items, wrong)
    problems = _check(decision, proc.stdout + proc.stderr, items)
    assert not problems, "\n".join(problems)
    for value in wrong.values():
        assert value not in proc.stdout + proc.stderr


def test_matrix_size():
    size = len(PROBES) * len(MODES)
    print(f"fault matrix: {len(PROBES)} probes x {len(MODES)} faults = {size} cells + wrong credentials")
    assert len(PROBES) >= 40
