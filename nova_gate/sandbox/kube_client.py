"""The sandbox cluster's API as its admin: the namespace of the release, the admin kubeconfig,
the Python client (cached per process) and kubectl."""

from __future__ import annotations

import subprocess
from pathlib import Path

from nova_gate.sandbox import ports
from nova_gate.sandbox.base import SandboxError, state_dir
from nova_gate.sandbox.kube_build import bin_dir

NAMESPACE = "nova-backend"


API_URL = f"https://{ports.HOST}:{ports.KUBE_APISERVER}"


_CLIENT: object | None = None


def admin_kubeconfig() -> Path:
    """The sandbox's cluster-admin kubeconfig (written when the component starts)."""
    return state_dir() / "kube" / "kubeconfig"


def kubectl(
    *args: str, kubeconfig: Path | None = None, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the kubectl built with the control plane against ``kubeconfig`` (the admin's by default)."""
    binary = bin_dir() / "kubectl"
    if not binary.exists():
        raise SandboxError(f"kubernetes: no kubectl at {binary}; it is built with the sandbox's control plane")
    return subprocess.run(
        [str(binary), f"--kubeconfig={kubeconfig or admin_kubeconfig()}", "--request-timeout=20s", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def api() -> object:
    """An ApiClient on the sandbox's admin kubeconfig (cached per process)."""
    global _CLIENT
    if _CLIENT is None:
        from kubernetes import config as kconfig

        path = admin_kubeconfig()
        if not path.exists():
            raise SandboxError("kubernetes: no kubeconfig; run `nova-gate sandbox up --only kubernetes`")
        _CLIENT = kconfig.new_client_from_config(config_file=str(path))
    return _CLIENT


def apps():
    from kubernetes import client

    return client.AppsV1Api(api())


def core():
    from kubernetes import client

    return client.CoreV1Api(api())


def status_code(exc: BaseException) -> int:
    return int(getattr(exc, "status", 0) or 0)


def reset_client() -> None:
    """Forget the cached client (the control plane was restarted with new certificates)."""
    global _CLIENT
    _CLIENT = None
