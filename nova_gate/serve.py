"""``nova-gate serve``: Flagger's webhooks run the gates.

Flagger POSTs ``{"name", "namespace", "phase", "checksum", "metadata"}`` to each webhook URL of a
Canary's analysis and reads only the status code. Each webhook type is mapped to a phase of the
checklist; the phase's gate runs as a pytest subprocess (the same selection CI runs) with its own
audit record, and its decision becomes the status:

- ``pre-rollout``, ``rollout``, ``confirm-promotion``, ``post-rollout``: PROCEED -> 200 (go on);
  STOP/ROLLBACK -> 412; any error (bad payload 400, busy 429, timeout 504, gate crash 500) is
  non-2xx, so Flagger halts: the service fails closed.
- ``rollback``: Flagger rolls the canary back when this hook answers 2xx. So a gate that decides
  STOP/ROLLBACK answers 200, PROCEED answers 412 (no rollback). A gate that could not decide does
  not roll back by itself (non-2xx): the ``rollout`` hook of the same iteration fails closed, and
  Flagger's failure threshold does the rest.

The service is thin wiring: the phase runner is injected (the self-tests use a stub), the rules
stay in the gate. Metadata may choose the phase (``phase``) and versions (``release_version``,
``baseline_version``), all validated; every other metadata key is ignored and never logged or
echoed (Flagger users put tokens there).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import itertools
import json
import os
import re
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from nova_gate.catalog import PHASES

HOOKS: dict[str, str] = {
    "pre-rollout": "images",
    "rollout": "canary_gate",
    "confirm-promotion": "scale_gate",
    "post-rollout": "post_deploy",
    "rollback": "canary_gate",
}
MAX_BODY = 64 * 1024
K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
GATE_SAID_NO = 412


class BadRequest(ValueError):
    pass


@dataclasses.dataclass(frozen=True)
class GateRequest:
    hook: str
    phase: str
    name: str
    namespace: str
    checksum: str
    flagger_phase: str
    release_version: str | None = None
    baseline_version: str | None = None

    @property
    def key(self) -> tuple[str, ...]:
        """What makes two calls the same gate run: not the hook (rollout and rollback hooks of one
        iteration both ask for the canary gate of the same revision, and share one run)."""
        return (
            self.phase,
            self.namespace,
            self.name,
            self.checksum,
            self.release_version or "",
            self.baseline_version or "",
        )


@dataclasses.dataclass
class GateResult:
    decision: str  # PROCEED | STOP | ROLLBACK | ERROR
    exit_code: int | None
    counts: dict[str, int] = dataclasses.field(default_factory=dict)
    blocking: list[str] = dataclasses.field(default_factory=list)
    reports_dir: str = ""
    detail: str = ""


PhaseRunner = Callable[[GateRequest], Awaitable[GateResult]]


def operator_for(namespace: str, name: str) -> str:
    """The record's operator for a Flagger call: ``flagger@NAMESPACE.NAME`` (a valid --operator name:
    letters, digits, ``. _ @ + -``, at most 64 characters; Kubernetes names are within that alphabet)."""
    return f"flagger@{namespace}.{name}"[:64]


def parse_payload(hook: str, body: bytes, hooks: dict[str, str]) -> GateRequest:
    """Flagger's webhook payload -> what to run; a bad payload raises BadRequest(field: reason)."""
    if hook not in hooks:
        raise BadRequest(f"unknown webhook type {hook!r}; served: {', '.join(hooks)}")
    try:
        doc = json.loads(body or b"null")
    except json.JSONDecodeError as exc:
        raise BadRequest(f"body: not JSON ({exc.msg})") from None
    except ValueError:
        raise BadRequest("body: not JSON (not UTF-8)") from None
    if not isinstance(doc, dict):
        raise BadRequest("body: expected a JSON object with name, namespace, phase, checksum, metadata")
    fields: dict[str, str] = {}
    for key in ("name", "namespace"):
        value = doc.get(key)
        if not isinstance(value, str) or not K8S_NAME.match(value):
            raise BadRequest(f"{key}: expected a Kubernetes object name, got {_show(value)}")
        fields[key] = value
    for key in ("phase", "checksum"):
        value = doc.get(key, "")
        if not isinstance(value, str) or len(value) > 128:
            raise BadRequest(f"{key}: expected a string (at most 128 characters)")
        fields[key] = value
    metadata = doc.get("metadata") or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise BadRequest("metadata: expected a map of strings (Flagger's webhook metadata)")
    phase = metadata.get("phase", hooks[hook])
    if phase not in PHASES:
        raise BadRequest(f"metadata.phase: unknown phase {_show(phase)}; phases: {', '.join(PHASES)}")
    release, baseline = (_version(metadata, key) for key in ("release_version", "baseline_version"))
    flagger_phase = fields.pop("phase")
    return GateRequest(
        hook=hook,
        phase=phase,
        flagger_phase=flagger_phase,
        release_version=release,
        baseline_version=baseline,
        **fields,
    )


def _version(metadata: dict[str, str], key: str) -> str | None:
    value = metadata.get(key)
    if value is not None and not VERSION.match(value):
        raise BadRequest(f"metadata.{key}: not a version label: {_show(value)}")
    return value


def _show(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 70 else text[:67] + "..."


def status_for(hook: str, result: GateResult) -> int:
    """The HTTP status Flagger acts on."""
    if result.decision == "ERROR":
        return 504 if result.exit_code is None and "timed out" in result.detail else 500
    go_on = result.decision == "PROCEED"
    if hook == "rollback":
        return GATE_SAID_NO if go_on else 200
    return 200 if go_on else GATE_SAID_NO


# --------------------------------------------------------------------------------------------
# The default runner: the phase's pytest selection in a subprocess, its own reports directory
# --------------------------------------------------------------------------------------------
class SubprocessRunner:
    """Run ``python -m pytest -m PHASE`` (or an injected command) with a timeout; read decision.json."""

    def __init__(
        self,
        reports_root: Path,
        env: str | None = None,
        timeout_s: float = 900,
        cwd: Path | None = None,
        command: Callable[[GateRequest, Path], Sequence[str]] | None = None,
    ) -> None:
        from nova_gate.config import project_root

        self.reports_root = reports_root
        self.env = env
        self.timeout_s = timeout_s
        self.cwd = cwd or project_root()
        self.command = command or self.pytest_command
        self._seq = itertools.count(1)

    def pytest_command(self, req: GateRequest, reports: Path) -> list[str]:
        argv = [sys.executable, "-m", "pytest", "-m", req.phase, "-q", "-p", "no:cacheprovider"]
        argv += [f"--reports-dir={reports}", f"--operator={operator_for(req.namespace, req.name)}"]
        if self.env:
            argv.append(f"--env={self.env}")
        if req.release_version:
            argv.append(f"--release-version={req.release_version}")
        if req.baseline_version:
            argv.append(f"--baseline-version={req.baseline_version}")
        return argv

    async def __call__(self, req: GateRequest) -> GateResult:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        reports = self.reports_root / f"{req.namespace}.{req.name}" / f"{req.hook}-{stamp}-{next(self._seq)}"
        reports.mkdir(parents=True, exist_ok=True)
        log = reports / "gate-output.log"
        with open(log, "wb") as out:
            proc = await asyncio.create_subprocess_exec(
                *self.command(req, reports),
                cwd=self.cwd,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # its own process group: a timeout kills the whole gate
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            try:
                code = await asyncio.wait_for(proc.wait(), self.timeout_s)
            except (TimeoutError, asyncio.CancelledError) as exc:
                _kill_group(proc.pid)
                with contextlib.suppress(ProcessLookupError):
                    await asyncio.shield(proc.wait())
                if isinstance(exc, asyncio.CancelledError):
                    raise
                return GateResult(
                    "ERROR", None, reports_dir=str(reports), detail=f"gate timed out after {self.timeout_s:g}s"
                )
        return read_result(reports, code, log)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def read_result(reports: Path, code: int, log: Path) -> GateResult:
    """The run's decision.json, cross-checked with its exit code (a mismatch is an error)."""
    path = reports / "decision.json"
    tail = " ".join(log.read_text(errors="replace").split()[-40:])[-400:] if log.exists() else ""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return GateResult("ERROR", code, reports_dir=str(reports), detail=f"no decision (exit {code}): {tail}")
    decision = str(doc.get("decision"))
    if decision not in ("PROCEED", "STOP", "ROLLBACK") or (code == 0) != (decision == "PROCEED"):
        return GateResult(
            "ERROR", code, reports_dir=str(reports), detail=f"decision {decision} does not match exit {code}"
        )
    blocking = [i for p in (doc.get("phases") or {}).values() for i in p.get("blocking", [])]
    return GateResult(decision, code, dict(doc.get("counts") or {}), blocking, str(reports))


# --------------------------------------------------------------------------------------------
# The ASGI application
# --------------------------------------------------------------------------------------------
class GateService:
    """Bounded, de-duplicated gate runs: the same call while it runs joins it; a full service says 429."""

    def __init__(self, runner: PhaseRunner, max_concurrent: int = 2, hooks: dict[str, str] | None = None) -> None:
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        self.runner = runner
        self.max_concurrent = max_concurrent
        self.hooks = dict(hooks or HOOKS)
        self.running: dict[tuple[str, ...], asyncio.Task[GateResult]] = {}
        self.served = 0

    async def run(self, req: GateRequest) -> GateResult | None:
        """The result, or None when the service is full."""
        task = self.running.get(req.key)
        if task is None:
            if len(self.running) >= self.max_concurrent:
                return None
            task = asyncio.ensure_future(self.runner(req))
            self.running[req.key] = task
            key = req.key

            def forget(_task: asyncio.Task[GateResult]) -> None:
                self.running.pop(key, None)

            task.add_done_callback(forget)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a runner that crashed is an error, never a pass
            return GateResult("ERROR", None, detail=f"runner failed: {type(exc).__name__}: {exc}"[:400])


def create_app(service: GateService) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def hook(request: Request) -> JSONResponse:
        name = request.path_params["hook"]
        if name not in service.hooks:
            return JSONResponse({"error": f"unknown webhook type {name!r}", "served": list(service.hooks)}, 404)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return JSONResponse({"error": f"body over {MAX_BODY} bytes"}, 413)
        try:
            req = parse_payload(name, body, service.hooks)
        except BadRequest as exc:
            return JSONResponse({"error": str(exc)}, 400)
        result = await service.run(req)
        if result is None:
            return JSONResponse(
                {"error": f"{service.max_concurrent} gate runs in progress; retry"},
                429,
                headers={"Retry-After": "30"},
            )
        service.served += 1
        status = status_for(req.hook, result)
        return JSONResponse(
            {
                "hook": req.hook,
                "canary": f"{req.namespace}/{req.name}",
                "checksum": req.checksum,
                "phase": req.phase,
                "decision": result.decision,
                "exit_code": result.exit_code,
                "counts": result.counts,
                "blocking": result.blocking,
                "reports_dir": result.reports_dir,
                "detail": result.detail,
                "action": _action(req.hook, status),
            },
            status,
        )

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "ok": True,
                "running": len(service.running),
                "max_concurrent": service.max_concurrent,
                "hooks": service.hooks,
            }
        )

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/flagger/{hook}", hook, methods=["POST"]),
        ]
    )


def _action(hook: str, status: int) -> str:
    if hook == "rollback":
        return "roll back" if status == 200 else "no rollback"
    return "go on" if status == 200 else "halt"


def parse_hook_overrides(values: Sequence[str]) -> dict[str, str]:
    """``--hook TYPE=PHASE`` options over the default mapping (bad input raises BadRequest)."""
    hooks = dict(HOOKS)
    for value in values:
        hook, sep, phase = value.partition("=")
        if not sep or hook not in HOOKS or phase not in PHASES:
            raise BadRequest(
                f"--hook {value!r}: expected TYPE=PHASE with TYPE in {', '.join(HOOKS)} "
                f"and PHASE in {', '.join(PHASES)}"
            )
        hooks[hook] = phase
    return hooks


def serve(
    host: str,
    port: int,
    env: str | None,
    reports_root: Path,
    max_concurrent: int,
    timeout_s: float,
    hooks: dict[str, str],
) -> int:
    import uvicorn

    runner = SubprocessRunner(reports_root, env=env, timeout_s=timeout_s)
    app = create_app(GateService(runner, max_concurrent=max_concurrent, hooks=hooks))
    print(
        f"nova-gate serve: Flagger webhooks on http://{host}:{port}/flagger/<type> "
        f"({', '.join(f'{h}->{p}' for h, p in hooks.items())}); at most {max_concurrent} gate runs, "
        f"{timeout_s:g}s each; records under {reports_root}",
        flush=True,
    )
    uvicorn.run(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=5)
    return 0
