"""A real Kubernetes control plane on loopback: etcd, kube-apiserver, controller-manager, scheduler
and kwok (fake nodes and kubelets), all built from source through the Go module proxy.

This module is the component: the cluster's certificates and kubeconfigs, the gates' read-only
identity, and starting, checking and snapshotting the control plane. The rest is one concern a
module: ``kube_build`` (the Go builds), ``kube_client`` (the admin's API client and kubectl),
``kube_kwok`` (kwok's stages and logs), ``kube_release`` (the release and its steps) and
``kube_faults`` (the faults).
"""

from __future__ import annotations

import ssl
import time
from pathlib import Path
from typing import Any

from nova_gate.sandbox import kube_client, kube_faults, ports
from nova_gate.sandbox.base import Component, Fault, Health, SandboxError, state_dir, wait_for, wait_port
from nova_gate.sandbox.kube_build import bin_dir, build_all
from nova_gate.sandbox.kube_client import API_URL, NAMESPACE
from nova_gate.sandbox.kube_kwok import FAULT_LABEL, kwok_config
from nova_gate.sandbox.kube_release import (
    NODES,
    ensure_nodes,
    log_dir,
    release_spec,
    reset_release,
    write_pod_logs,
)

SERVICE_CIDR = "10.96.0.0/16"


SERVICE_IP = "10.96.0.1"


def _pki(pki: Path) -> None:
    """The cluster's own CA (its trust domain, as in a real cluster), serving and client certs.

    Made by nova_gate/sandbox/pki.py like every other sandbox certificate; kept while valid.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from nova_gate.sandbox.pki import LocalCA

    ca = LocalCA(pki, "nova-sandbox-kube-ca")
    hosts = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "127.0.0.1", SERVICE_IP)
    ca.server("apiserver", hosts, common_name="kube-apiserver")
    ca.server("kubelet", hosts, common_name="kwok-kubelet")
    ca.client("apiserver-kubelet-client", "kube-apiserver-kubelet-client", ("system:masters",))
    ca.client("controller-manager", "system:kube-controller-manager")
    ca.client("scheduler", "system:kube-scheduler")
    ca.client("kwok", "kwok-controller", ("system:masters",))
    ca.client("admin", "nova-sandbox-admin", ("system:masters",))
    if not (pki / "sa.key").exists():  # the service-account signing key: tokens outlive a restart
        sa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key = sa.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        (pki / "sa.key").write_bytes(key)
        (pki / "sa.key").chmod(0o600)
        (pki / "sa.pub").write_bytes(
            sa.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )


def _kubeconfig(path: Path, pki: Path, user: str) -> None:
    import yaml

    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "nova-sandbox", "cluster": {"server": API_URL, "certificate-authority": str(pki / "ca.crt")}}
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate": str(pki / f"{user}.crt"),
                    "client-key": str(pki / f"{user}.key"),
                },
            }
        ],
        "contexts": [{"name": "nova-sandbox", "context": {"cluster": "nova-sandbox", "user": user}}],
        "current-context": "nova-sandbox",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    path.chmod(0o600)


#: the gates' identity: examples/kubernetes/rbac.yaml (ServiceAccount nova-gate/nova-gate bound to
#: the get/list/watch ClusterRole nova-gate-reader), its token written as a kubeconfig of its own
GATES_NAMESPACE = "nova-gate"


GATES_SERVICE_ACCOUNT = "nova-gate"


GATES_KUBECONFIG = "gates.kubeconfig"


#: lifetime of the gates' token; a sandbox start (or ``ensure_gates_identity``) requests a new one
GATES_TOKEN_TTL_S = 7 * 24 * 3600


def gates_kubeconfig_path() -> Path:
    """The gates' kubeconfig (environments/sandbox.yaml ``backends.kubernetes.kubeconfig``)."""
    return state_dir() / "kube" / GATES_KUBECONFIG


def _rbac_docs() -> list[dict[str, Any]]:
    import yaml

    from nova_gate.config import project_root

    text = (project_root() / "examples" / "kubernetes" / "rbac.yaml").read_text()
    return [d for d in yaml.safe_load_all(text) if d]


def request_token(namespace: str, service_account: str, ttl_s: int, audiences: list[str] | None = None) -> str:
    """A bound ServiceAccount token (TokenRequest API), requested with the admin identity."""
    from kubernetes import client

    spec = client.V1TokenRequestSpec(audiences=audiences or [], expiration_seconds=ttl_s)
    answer = kube_client.core().create_namespaced_service_account_token(
        service_account, namespace, client.AuthenticationV1TokenRequest(spec=spec), _request_timeout=15
    )
    return str(answer.status.token)


def token_kubeconfig(path: Path, token: str, user: str = "nova-gate") -> Path:
    """A kubeconfig for the sandbox's API server that authenticates with ``token`` only (mode 0600)."""
    import yaml

    pki = state_dir() / "kube" / "pki"
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "nova-sandbox", "cluster": {"server": API_URL, "certificate-authority": str(pki / "ca.crt")}}
        ],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": user, "context": {"cluster": "nova-sandbox", "user": user}}],
        "current-context": user,
    }
    tmp = path.with_suffix(".partial")
    tmp.write_text(yaml.safe_dump(doc))
    tmp.chmod(0o600)
    tmp.rename(path)
    return path


def ensure_gates_identity() -> Path:
    """Apply the example RBAC (idempotent), request the gates' token and write their kubeconfig.

    The gates read the cluster with this ServiceAccount only; the admin kubeconfig stays with the
    sandbox's own release steps (canary, scale, rollout, rollback) and faults.
    """
    from kubernetes import client, utils
    from kubernetes.client.exceptions import ApiException

    api = kube_client.api()
    for doc in _rbac_docs():
        try:
            utils.create_from_dict(api, doc)
        except utils.FailToCreateError as exc:
            if any(kube_client.status_code(e) != 409 for e in exc.api_exceptions):
                raise SandboxError(f"kubernetes: applying examples/kubernetes/rbac.yaml: {exc}") from exc
            if doc["kind"] == "ClusterRole":  # keep the rules equal to the example's
                rbac: Any = client.RbacAuthorizationV1Api(api)
                rbac.replace_cluster_role(doc["metadata"]["name"], doc, _request_timeout=15)
    deadline = time.monotonic() + 30
    while True:
        try:
            token = request_token(GATES_NAMESPACE, GATES_SERVICE_ACCOUNT, GATES_TOKEN_TTL_S)
            break
        except ApiException as exc:
            if kube_client.status_code(exc) != 404 or time.monotonic() > deadline:
                raise SandboxError(
                    f"kubernetes: TokenRequest for {GATES_SERVICE_ACCOUNT}: {kube_client.status_code(exc)}"
                ) from exc
            time.sleep(0.5)
    return token_kubeconfig(gates_kubeconfig_path(), token)


class Kubernetes(Component):
    name = "kubernetes"

    def __init__(self, root: Path | None = None) -> None:
        super().__init__(root)
        self.dir = self.root / "kube"  # admin: kube/kubeconfig; the gates: kube/gates.kubeconfig
        self.bin = bin_dir()
        self.pki = self.dir / "pki"

    def install(self) -> None:
        build_all()

    def _ssl(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.pki / "ca.crt"))
        ctx.load_cert_chain(str(self.pki / "admin.crt"), str(self.pki / "admin.key"))
        return ctx

    def _get(self, path: str, timeout: float = 3) -> tuple[int, str]:
        import httpx

        try:
            r = httpx.get(API_URL + path, verify=self._ssl(), timeout=timeout)
        except (httpx.HTTPError, OSError) as exc:
            return 0, str(exc)
        return r.status_code, r.text

    def start(self) -> None:
        kube_client.reset_client()
        services, *_ = release_spec()
        names = [s for s, _, _ in services]
        self.dir.mkdir(parents=True, exist_ok=True)
        _pki(self.pki)
        kc = self.dir / "kubeconfig"
        _kubeconfig(kc, self.pki, "admin")
        for user in ("controller-manager", "scheduler", "kwok"):
            _kubeconfig(self.dir / f"{user}.kubeconfig", self.pki, user)
        write_pod_logs(errors=False)
        kwok_config(self.dir / "kwok.yaml", log_dir(), names)
        b, p = self.bin, self.pki
        self.spawn(
            "kubernetes-etcd",
            [
                str(b / "etcd"), "--name=nova", f"--data-dir={self.dir / 'etcd'}",
                f"--listen-client-urls=http://{ports.HOST}:{ports.ETCD_CLIENT}",
                f"--advertise-client-urls=http://{ports.HOST}:{ports.ETCD_CLIENT}",
                f"--listen-peer-urls=http://{ports.HOST}:{ports.ETCD_PEER}",
                f"--initial-advertise-peer-urls=http://{ports.HOST}:{ports.ETCD_PEER}",
                f"--initial-cluster=nova=http://{ports.HOST}:{ports.ETCD_PEER}",
                "--unsafe-no-fsync", "--quota-backend-bytes=4294967296", "--snapshot-count=10000",
                "--log-level=warn",
            ],
            env={"GOMAXPROCS": "2"},
        )  # fmt: skip
        wait_port(ports.ETCD_CLIENT, "etcd", 30)
        self.spawn(
            "kubernetes-apiserver",
            [
                str(b / "kube-apiserver"),
                f"--etcd-servers=http://{ports.HOST}:{ports.ETCD_CLIENT}",
                f"--bind-address={ports.HOST}", f"--advertise-address={ports.HOST}",
                f"--secure-port={ports.KUBE_APISERVER}",
                f"--tls-cert-file={p / 'apiserver.crt'}", f"--tls-private-key-file={p / 'apiserver.key'}",
                f"--client-ca-file={p / 'ca.crt'}",
                f"--service-account-key-file={p / 'sa.pub'}",
                f"--service-account-signing-key-file={p / 'sa.key'}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                "--authorization-mode=Node,RBAC",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                f"--kubelet-client-certificate={p / 'apiserver-kubelet-client.crt'}",
                f"--kubelet-client-key={p / 'apiserver-kubelet-client.key'}",
                "--kubelet-preferred-address-types=InternalIP",
                "--allow-privileged=true", "--profiling=false", "--event-ttl=30m", "--v=1",
            ],
            env={"GOMAXPROCS": "2"},
        )  # fmt: skip
        wait_for(lambda: self._get("/readyz")[0] == 200, "kube-apiserver /readyz", 60)
        common = ["--leader-elect=false", "--secure-port=0", "--kube-api-qps=200", "--kube-api-burst=400", "--v=1"]
        self.spawn(
            "kubernetes-controller-manager",
            [
                str(b / "kube-controller-manager"), f"--kubeconfig={self.dir / 'controller-manager.kubeconfig'}",
                "--use-service-account-credentials=true", f"--service-account-private-key-file={p / 'sa.key'}",
                f"--root-ca-file={p / 'ca.crt'}", "--cluster-name=nova-sandbox",
                "--concurrent-deployment-syncs=10", "--concurrent-replicaset-syncs=10",
                "--concurrent-gc-syncs=10", *common,
            ],
            env={"GOMAXPROCS": "2"},
        )  # fmt: skip
        self.spawn(
            "kubernetes-scheduler",
            [str(b / "kube-scheduler"), f"--kubeconfig={self.dir / 'scheduler.kubeconfig'}", *common],
            env={"GOMAXPROCS": "2"},
        )
        self._spawn_kwok()
        wait_for(self._default_sa_ready, "controller-manager (default service account)", 60)
        ensure_nodes()
        ensure_gates_identity()
        reset_release(wait=True)

    def _spawn_kwok(self) -> None:
        b, p = self.bin, self.pki
        self.spawn(
            "kubernetes-kwok",
            [
                str(b / "kwok"), f"--kubeconfig={self.dir / 'kwok.kubeconfig'}", f"--config={self.dir / 'kwok.yaml'}",
                "--manage-all-nodes=false", "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                f"--node-ip={ports.HOST}", f"--node-port={ports.KWOK_KUBELET}",
                f"--server-address={ports.HOST}:{ports.KWOK_KUBELET}",
                f"--tls-cert-file={p / 'kubelet.crt'}", f"--tls-private-key-file={p / 'kubelet.key'}",
                "--cidr=10.244.0.0/16", "--node-lease-duration-seconds=40",
            ],
            env={"GOMAXPROCS": "2"},
        )  # fmt: skip

    def restart_kwok(self) -> None:
        """Reload kwok's stages (e.g. a new fault stage) without touching the control plane."""
        services, *_ = release_spec()
        kwok_config(self.dir / "kwok.yaml", log_dir(), [s for s, _, _ in services])
        self.stop_process("kubernetes-kwok", timeout=30)
        self._spawn_kwok()

        def nodes_ready() -> bool:
            nodes = kube_client.core().list_node(_request_timeout=10).items
            return len(nodes) >= len(NODES) and all(
                any(c.type == "Ready" and c.status == "True" for c in (n.status.conditions or [])) for n in nodes
            )

        wait_for(nodes_ready, "kwok nodes Ready again", 90)

    def _default_sa_ready(self) -> bool:
        import json

        code, _ = self._get("/api/v1/namespaces/default/serviceaccounts/default")
        if code != 200:
            return False
        code, text = self._get("/api/v1/nodes")
        return code == 200 and isinstance(json.loads(text), dict)

    def health(self) -> Health:
        code, text = self._get("/readyz")
        if code != 200:
            return Health(False, API_URL, self.pids(), f"/readyz: {code or text[:120]}")
        try:
            pods = kube_client.core().list_namespaced_pod(NAMESPACE, _request_timeout=10).items
        except Exception as exc:
            return Health(False, API_URL, self.pids(), f"listing pods: {str(exc)[:160]}")
        ready = [p for p in pods if any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or []))]
        ok = bool(pods) and len(ready) == len(pods) and len(self.pids()) == 5
        detail = f"{len(ready)}/{len(pods)} pods ready in {NAMESPACE}"
        if not gates_kubeconfig_path().is_file():
            ok, detail = False, f"{detail}; the gates' kubeconfig {GATES_KUBECONFIG} is missing (start again)"
        return Health(ok, API_URL, self.pids(), detail)

    def reset(self) -> None:
        super().reset()

    # -- faults -----------------------------------------------------------------------------
    def faults(self) -> list[Fault]:
        return kube_faults.faults()

    def snapshot(self) -> dict[str, Any]:
        """The release's objects as declared: Deployments' specs, Services' ports and selectors,
        nodes' allocatable resources, pods by (app, version, ready, fault label), the pod log
        files. Left out: names the API generates (pods, ReplicaSets), uids, resourceVersions,
        status times, cluster IPs and the Deployments' revision annotations."""
        import hashlib

        clean = kube_client.api().sanitize_for_serialization  # type: ignore[attr-defined]
        deployments = {
            d.metadata.name: clean(d.spec)
            for d in kube_client.apps().list_namespaced_deployment(NAMESPACE, _request_timeout=15).items
        }
        services = {
            s.metadata.name: (clean(s.spec.ports), s.spec.selector)
            for s in kube_client.core().list_namespaced_service(NAMESPACE, _request_timeout=15).items
        }
        nodes = {n.metadata.name: n.status.allocatable for n in kube_client.core().list_node(_request_timeout=15).items}
        pods = sorted(
            (
                (p.metadata.labels or {}).get("app", ""),
                (p.metadata.labels or {}).get("version", ""),
                any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or [])),
                (p.metadata.labels or {}).get(FAULT_LABEL, ""),
            )
            for p in kube_client.core().list_namespaced_pod(NAMESPACE, _request_timeout=15).items
            if p.metadata.deletion_timestamp is None
        )
        logs = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(log_dir().glob("*.log"))}
        return {
            **super().snapshot(),
            "deployments": deployments,
            "services": services,
            "nodes": nodes,
            "pods": pods,
            "pod_logs": logs,
        }


if __name__ == "__main__":
    print(f"built in {build_all():.0f}s into {bin_dir()}")
