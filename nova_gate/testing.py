"""Helpers for nova-gate's own self-tests and benches: a gate run in a subprocess, a copy of the
sandbox environment. Not used by the gates themselves."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

#: quiet, and no .pytest_cache written by the many runs of a proof
QUIET = ("-q", "-p", "no:cacheprovider")


def free_port() -> int:
    """A loopback port nothing listens on (just released by the OS): an unreachable backend, or one to bind."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def gate_argv(
    *args: str,
    env_file: str | os.PathLike[str] | None = None,
    reports: str | os.PathLike[str] | None = None,
    items: Iterable[str] = (),
    options: Sequence[str] = QUIET,
    launcher: Sequence[str] = ("-m", "pytest"),
) -> list[str]:
    """``python -m pytest OPTIONS [--env=] [--reports-dir=] [--item=]... ARGS`` (``launcher``: what
    follows ``python``, e.g. ``-c`` and a script that runs ``pytest.main`` and measures it)."""
    argv = [sys.executable, *launcher, *options]
    if env_file is not None:
        argv.append(f"--env={env_file}")
    if reports is not None:
        argv.append(f"--reports-dir={reports}")
    return [*argv, *[f"--item={i}" for i in items], *args]


def run_gate(
    *args: str,
    root: str | os.PathLike[str],
    env_file: str | os.PathLike[str] | None = None,
    reports: str | os.PathLike[str] | None = None,
    items: Iterable[str] = (),
    timeout: float = 300,
    env: Mapping[str, str] | None = None,
    options: Sequence[str] = QUIET,
    launcher: Sequence[str] = ("-m", "pytest"),
) -> subprocess.CompletedProcess[str]:
    """Run the gate tests of the checkout at ``root`` in a subprocess; output captured, never raises on exit."""
    return subprocess.run(
        gate_argv(*args, env_file=env_file, reports=reports, items=items, options=options, launcher=launcher),
        cwd=root,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


def sandbox_document(root: str | os.PathLike[str], file: str = "sandbox.yaml") -> dict[str, Any]:
    """environments/sandbox.yaml (or another of its files: ``sandbox-scaled.yaml``) with its relative
    paths made absolute (for copies elsewhere)."""
    import yaml

    env_dir = Path(root) / "environments"
    doc: dict[str, Any] = yaml.safe_load((env_dir / file).read_text())

    def absolute(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: absolute(v) for k, v in node.items()}
        if isinstance(node, list):
            return [absolute(v) for v in node]
        if isinstance(node, str) and node.startswith("../"):
            return str((env_dir / node).resolve())
        return node

    result: dict[str, Any] = absolute(doc)
    return result


AWS_IDENTITY_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)


def isolate_aws(monkeypatch: Any, tmp_path: Path, unchecked_requests: int) -> None:
    """For moto in-process with IAM enforcement: no AWS identity from this machine (environment,
    shared files, metadata) and the first ``unchecked_requests`` requests unchecked (the seeding),
    what moto's ``set_initial_no_auth_action_count`` decorator does, as a pytest monkeypatch."""
    from moto import settings as moto_settings
    from moto.core.authorization import ActionAuthenticatorMixin

    for name in AWS_IDENTITY_VARIABLES:
        # set, then deleted: the undo restores this variable's value from before the test (or its
        # absence) even when the test set it again while moto's mock was on. A bare delenv of an
        # absent variable records nothing, so a later ``setenv`` undid only back to moto's fake key,
        # which outlived the test and reached the next one's credential chain.
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(moto_settings, "INITIAL_NO_AUTH_ACTION_COUNT", unchecked_requests)
    monkeypatch.setattr(ActionAuthenticatorMixin, "request_count", 0)
