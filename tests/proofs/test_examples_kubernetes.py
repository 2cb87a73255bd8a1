"""examples/ on the sandbox's real kube-apiserver.

1. Every manifest is accepted by a server-side dry run (the API server's own validation and
   admission, nothing persisted); the Argo Rollouts and Flagger kinds have no CRDs in the sandbox, so
   the Job of the AnalysisTemplate and the pod template of the Rollout are dry-run as the core
   objects Argo creates from them, and the Canary's webhooks are checked against ``nova-gate serve``.
   A broken Job is rejected, so the dry run is not a rubber stamp.
2. The read-only RBAC for real, in a namespace of its own (deleted afterwards): the example's
   ServiceAccount, ClusterRole and binding are created, a token is requested (TokenRequest), and with
   that token list works while patch, create, delete and reading secrets are forbidden; the gates
   that read Kubernetes run from outside with that token and PASS, and with a token of an unbound
   ServiceAccount they FAIL.
"""

from __future__ import annotations

import copy
import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from nova_gate import serve
from nova_gate.sandbox import kube_client as kube

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "examples"
KUBE_ITEMS = ["PRE-CFG-1", "PRE-INF-1", "PRE-INF-7"]  # the preflight items that read Kubernetes


def kubectl(*args: str, stdin: str | None = None, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    return kube.kubectl(*args, kubeconfig=config, stdin=stdin)


def docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


@pytest.fixture
def namespace() -> Iterator[str]:
    name = f"nova-gate-proof-{uuid.uuid4().hex[:6]}"
    assert kubectl("create", "namespace", name).returncode == 0
    try:
        yield name
    finally:
        kubectl("delete", "namespace", name, "--wait=false")


def retarget(doc: dict[str, Any], namespace: str, suffix: str) -> dict[str, Any]:
    """The example object in the test's namespace; cluster-scoped names made unique."""
    doc = copy.deepcopy(doc)
    meta = doc.setdefault("metadata", {})
    if doc["kind"] in ("ClusterRole", "ClusterRoleBinding"):
        meta["name"] = f"{meta['name']}-{suffix}"
    elif doc["kind"] != "Namespace":
        meta["namespace"] = namespace
    for subject in doc.get("subjects", []):
        subject["namespace"] = namespace
    if doc["kind"] == "ClusterRoleBinding":
        doc["roleRef"]["name"] = f"{doc['roleRef']['name']}-{suffix}"
    return doc


def dry_run(doc: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    verb = "create" if doc["metadata"].get("generateName") else "apply"
    return kubectl(verb, "--dry-run=server", "-o", "name", "-f", "-", stdin=json.dumps(doc))


def test_every_example_manifest_passes_a_server_side_dry_run(namespace: str) -> None:
    suffix = namespace.rsplit("-", 1)[1]
    plain = [
        EX / "kubernetes" / "rbac.yaml",
        EX / "kubernetes" / "job.yaml",
        EX / "flagger" / "nova-gate-serve.yaml",
        EX / "argo-rollouts" / "serviceaccount.yaml",
    ]
    checked = []
    for path in plain:
        for doc in docs(path):
            if doc["kind"] == "Namespace":
                continue  # the test's own namespace stands in for it
            r = dry_run(retarget(doc, namespace, suffix))
            assert r.returncode == 0, f"{path.name} {doc['kind']}: {r.stderr}"
            checked.append(f"{path.name}:{doc['kind']}")
    # Argo Rollouts: the analysis Job exactly as the Job provider creates it, args filled in
    template = docs(EX / "argo-rollouts" / "analysis-template.yaml")[0]
    metric = template["spec"]["metrics"][0]
    job_text = json.dumps(metric["provider"]["job"])
    for arg, value in (("phase", "canary_gate"), ("release-version", "v1.0.0"), ("baseline-version", "v0.9.0")):
        job_text = job_text.replace("{{args." + arg + "}}", value)
    job = {"apiVersion": "batch/v1", "kind": "Job", **json.loads(job_text)}
    job["metadata"] = {**job.get("metadata", {}), "name": "nova-gate-analysis", "namespace": namespace}
    r = dry_run(job)
    assert r.returncode == 0, r.stderr
    assert metric["failureLimit"] == 0 and job["spec"]["backoffLimit"] == 0  # one failed gate is final
    rollout = docs(EX / "argo-rollouts" / "rollout.yaml")[0]
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "feed-service-rollout-check", "namespace": namespace},
        "spec": {k: rollout["spec"][k] for k in ("replicas", "selector", "template")},
    }
    r = dry_run(deployment)
    assert r.returncode == 0, r.stderr
    steps = rollout["spec"]["strategy"]["canary"]["steps"]
    phases = [a["value"] for s in steps if "analysis" in s for a in s["analysis"]["args"] if a["name"] == "phase"]
    assert phases == ["canary_gate", "scale_gate"]
    assert {t["templateName"] for s in steps if "analysis" in s for t in s["analysis"]["templates"]} == {
        template["metadata"]["name"]
    }
    assert len(checked) >= 7, checked


def test_flagger_canary_webhooks_point_at_the_served_hooks() -> None:
    canary = docs(EX / "flagger" / "canary.yaml")[0]
    service = next(d for d in docs(EX / "flagger" / "nova-gate-serve.yaml") if d["kind"] == "Service")
    base = (
        f"http://{service['metadata']['name']}.{service['metadata']['namespace']}:{service['spec']['ports'][0]['port']}"
    )
    hooks = canary["spec"]["analysis"]["webhooks"]
    assert sorted(h["type"] for h in hooks) == sorted(serve.HOOKS)
    for hook in hooks:
        assert hook["url"] == f"{base}/flagger/{hook['type']}"
        assert all(serve.VERSION.match(v) for k, v in hook["metadata"].items() if k.endswith("_version"))
        minutes = int(hook["timeout"].rstrip("m"))
        assert minutes >= 5  # longer than a gate run: Flagger must not time out before the gate decides


def test_a_broken_job_is_rejected_by_the_dry_run(namespace: str) -> None:
    job = retarget(docs(EX / "kubernetes" / "job.yaml")[0], namespace, "x")
    job["spec"]["template"]["spec"]["restartPolicy"] = "Always"  # invalid for a Job
    r = dry_run(job)
    assert r.returncode != 0 and "restartPolicy" in r.stderr


def _token(namespace: str, sa: str) -> str:
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 600}}
    r = kubectl(
        "create", "--raw", f"/api/v1/namespaces/{namespace}/serviceaccounts/{sa}/token", "-f", "-",
        stdin=json.dumps(request),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    token: str = json.loads(r.stdout)["status"]["token"]
    return token


def _token_kubeconfig(path: Path, token: str) -> Path:
    admin = yaml.safe_load(kube.admin_kubeconfig().read_text())
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": admin["clusters"],
        "users": [{"name": "nova-gate", "user": {"token": token}}],
        "contexts": [{"name": "nova-gate", "context": {"cluster": admin["clusters"][0]["name"], "user": "nova-gate"}}],
        "current-context": "nova-gate",
    }
    path.write_text(yaml.safe_dump(doc))
    path.chmod(0o600)
    return path


@pytest.fixture
def read_only_identity(namespace: str) -> Iterator[tuple[str, str]]:
    """The example's SA + ClusterRole + binding, created for real in the test's namespace."""
    suffix = namespace.rsplit("-", 1)[1]
    created = []
    for doc in docs(EX / "kubernetes" / "rbac.yaml"):
        if doc["kind"] == "Namespace":
            continue
        doc = retarget(doc, namespace, suffix)
        r = kubectl("apply", "-f", "-", "-o", "name", stdin=json.dumps(doc))
        assert r.returncode == 0, r.stderr
        created.append(r.stdout.strip())
    assert kubectl("create", "serviceaccount", "unbound", "-n", namespace).returncode == 0
    try:
        yield namespace, suffix
    finally:
        for name in created:
            if name.startswith("clusterrole"):
                kubectl("delete", name, "--ignore-not-found")


def test_rbac_token_can_list_and_cannot_write(read_only_identity: tuple[str, str], tmp_path: Path) -> None:
    namespace, _ = read_only_identity
    config = _token_kubeconfig(tmp_path / "sa.kubeconfig", _token(namespace, "nova-gate"))
    ok = kubectl("get", "pods,deployments,services", "-n", kube.NAMESPACE, "-o", "name", config=config)
    assert ok.returncode == 0 and "pod/" in ok.stdout and "deployment.apps/" in ok.stdout, ok.stderr
    assert kubectl("get", "nodes", "-o", "name", config=config).returncode == 0
    deployment = ok.stdout.split("deployment.apps/")[1].split()[0]
    denied = {
        "patch": kubectl(
            "patch",
            "deployment",
            deployment,
            "-n",
            kube.NAMESPACE,
            "--type=merge",
            "-p",
            '{"metadata": {"labels": {"touched": "yes"}}}',
            config=config,
        ),
        "create": kubectl("create", "configmap", "x", "-n", kube.NAMESPACE, config=config),
        "scale": kubectl("scale", "deployment", deployment, "-n", kube.NAMESPACE, "--replicas=0", config=config),
        "delete": kubectl("delete", "pod", "--all", "-n", kube.NAMESPACE, "--dry-run=server", config=config),
        "secrets": kubectl("get", "secrets", "-n", kube.NAMESPACE, config=config),
    }
    for verb, r in denied.items():
        assert r.returncode != 0 and "forbidden" in r.stderr.lower(), f"{verb} was not forbidden: {r.stdout} {r.stderr}"
    # nothing was changed by the attempts
    labels = kubectl("get", "deployment", deployment, "-n", kube.NAMESPACE, "-o", "jsonpath={.metadata.labels}")
    assert "touched" not in labels.stdout


def test_the_gates_run_with_the_service_account_token(
    read_only_identity: tuple[str, str], tmp_path: Path, gate_run: Any, env_file: Any
) -> None:
    namespace, _ = read_only_identity
    bound = _token_kubeconfig(tmp_path / "sa.kubeconfig", _token(namespace, "nova-gate"))
    run = gate_run(KUBE_ITEMS, env_file=env_file({"backends.kubernetes.kubeconfig": str(bound)}))
    # narrowed to these items with --item: a partial run, never PROCEED; every item must PASS
    assert run.decision["decision"] == "PARTIAL", run.explain()
    assert set(run.labels()) == set(KUBE_ITEMS)
    assert all(v == "PASS" for v in run.labels().values()), run.explain()
    unbound = _token_kubeconfig(tmp_path / "unbound.kubeconfig", _token(namespace, "unbound"))
    run = gate_run(KUBE_ITEMS, env_file=env_file({"backends.kubernetes.kubeconfig": str(unbound)}))
    assert run.decision["decision"] == "STOP"
    assert all(v == "FAIL" for v in run.labels().values()), run.explain()
    assert "403" in run.explain() or "orbidden" in run.explain()
    for record in tmp_path.glob("reports-*/*"):  # no token (a JWT starts with eyJ) in any record file
        assert "eyJ" not in record.read_text(errors="replace"), record
