"""examples/ agree with the code and with each other (the live checks are in tests/proofs)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from nova_gate.catalog import PHASES

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "examples"


def pod_specs() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted(EX.rglob("*.yaml")):
        if path.parent.name == "ci":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc:
                continue
            spec = doc.get("spec", {})
            if doc["kind"] == "AnalysisTemplate":
                spec = spec["metrics"][0]["provider"]["job"]["spec"]
            template = spec.get("template", {}).get("spec")
            if template and any("nova-gate" in c.get("image", "") for c in template["containers"]):
                out.append((f"{path.name}:{doc['kind']}", template))
    return out


def test_the_containerfile_copies_what_exists_and_runs_as_the_manifests_user() -> None:
    text = (EX / "Containerfile").read_text()
    for line in text.splitlines():
        if line.startswith("COPY "):
            for src in line.split()[1:-1]:
                assert (ROOT / src.rstrip("/")).exists(), src
    user = re.search(r"^USER (\d+)$", text, re.M)
    assert user and user.group(1) != "0"
    specs = pod_specs()
    assert len(specs) == 3  # the Job, the analysis Job, the serve Deployment
    for where, spec in specs:
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert str(spec["securityContext"]["runAsUser"]) == user.group(1), where
        assert spec["serviceAccountName"] == "nova-gate", where
        gate = spec["containers"][0]
        assert gate["securityContext"]["readOnlyRootFilesystem"] is True, where
        mounts = {m["mountPath"] for m in gate["volumeMounts"]}
        env_arg = next(a for a in gate["args"] if a.startswith("--env="))
        assert str(Path(env_arg.split("=", 1)[1]).parent) in mounts, where
        assert any(a.startswith("--reports-dir=") and a.split("=", 1)[1] in mounts for a in gate["args"]), where


def test_the_gate_manifests_name_real_phases_and_never_carry_a_secret_value() -> None:
    job = yaml.safe_load((EX / "kubernetes" / "job.yaml").read_text())
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("-m") + 1] in PHASES
    assert job["spec"]["backoffLimit"] == 0
    for path in EX.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert not re.search(r"(password|token|secret)\s*[:=]\s*['\"]?[A-Za-z0-9+/]{12,}", text, re.I), path
    rbac = [d for d in yaml.safe_load_all((EX / "kubernetes" / "rbac.yaml").read_text()) if d]
    role = next(d for d in rbac if d["kind"] == "ClusterRole")
    verbs = {v for rule in role["rules"] for v in rule["verbs"]}
    resources = {r for rule in role["rules"] for r in rule["resources"]}
    assert verbs == {"get", "list", "watch"}
    assert not resources & {"secrets", "configmaps", "*"}
