"""``nova-gate serve`` called the way Flagger calls it: real HTTP to a real uvicorn server.

The phase runner is a stub here (fast); tests/proofs/test_serve_flagger.py runs a real gate.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from nova_gate import serve
from nova_gate.serve import GateRequest, GateResult, GateService, SubprocessRunner, create_app
from tests.unit.asgi_server import Server


def flagger_payload(**metadata: str) -> dict[str, Any]:
    """The body Flagger POSTs to a webhook (docs: name, namespace, phase, checksum, metadata)."""
    return {
        "name": "feed-service",
        "namespace": "nova-backend",
        "phase": "Progressing",
        "checksum": "85d557f47b",
        "metadata": {"token": "flagger-side-secret-123", **metadata},
    }


class Stub:
    def __init__(self, decision: str = "PROCEED", delay: float = 0.0) -> None:
        self.decision = decision
        self.delay = delay
        self.calls: list[GateRequest] = []

    async def __call__(self, req: GateRequest) -> GateResult:
        self.calls.append(req)
        if self.delay > 0:
            await asyncio.sleep(self.delay)
        code = 0 if self.decision == "PROCEED" else 1
        return GateResult(self.decision, code, {"PASS": 3}, [] if code == 0 else ["CAN-3"], "/tmp/x")


@pytest.fixture
def serving() -> Iterator[Any]:
    servers: list[Server] = []

    def start(runner: Any, **kw: Any) -> tuple[str, GateService]:
        service = GateService(runner, **kw)
        srv = Server(create_app(service))
        servers.append(srv)
        return srv.__enter__(), service

    yield start
    for srv in servers:
        srv.__exit__()


@pytest.mark.parametrize(
    ("hook", "phase"),
    [
        ("pre-rollout", "images"),
        ("rollout", "canary_gate"),
        ("confirm-promotion", "scale_gate"),
        ("post-rollout", "post_deploy"),
    ],
)
def test_each_hook_runs_its_phase_and_200_goes_on(serving: Any, hook: str, phase: str) -> None:
    stub = Stub("PROCEED")
    url, _ = serving(stub)
    with httpx.Client(timeout=10) as client:
        r = client.post(f"{url}/flagger/{hook}", json=flagger_payload())
    assert r.status_code == 200, r.text
    assert r.json()["decision"] == "PROCEED" and r.json()["action"] == "go on"
    assert [c.phase for c in stub.calls] == [phase]
    assert stub.calls[0].namespace == "nova-backend" and stub.calls[0].checksum == "85d557f47b"
    assert "flagger-side-secret-123" not in r.text  # metadata is never echoed


@pytest.mark.parametrize("decision", ["ROLLBACK", "STOP"])
def test_a_blocking_decision_halts_flagger(serving: Any, decision: str) -> None:
    url, _ = serving(Stub(decision))
    with httpx.Client(timeout=10) as client:
        r = client.post(f"{url}/flagger/rollout", json=flagger_payload())
    assert r.status_code == 412
    assert r.json()["decision"] == decision and r.json()["blocking"] == ["CAN-3"] and r.json()["action"] == "halt"


def test_rollback_hook_answers_200_only_when_the_gate_says_roll_back(serving: Any) -> None:
    url_bad, _ = serving(Stub("ROLLBACK"))
    url_good, _ = serving(Stub("PROCEED"))
    with httpx.Client(timeout=10) as client:
        bad = client.post(f"{url_bad}/flagger/rollback", json=flagger_payload())
        good = client.post(f"{url_good}/flagger/rollback", json=flagger_payload())
    assert bad.status_code == 200 and bad.json()["action"] == "roll back"
    assert good.status_code == 412 and good.json()["action"] == "no rollback"


def test_metadata_chooses_phase_and_versions(serving: Any) -> None:
    stub = Stub()
    url, _ = serving(stub)
    with httpx.Client(timeout=10) as client:
        r = client.post(
            f"{url}/flagger/pre-rollout",
            json=flagger_payload(phase="predeploy", release_version="v1.0.1", baseline_version="v1.0.0"),
        )
    assert r.status_code == 200
    call = stub.calls[0]
    assert (call.phase, call.release_version, call.baseline_version) == ("predeploy", "v1.0.1", "v1.0.0")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "body: not JSON"),
        (b"[1, 2]", "body: expected a JSON object"),
        (b'{"namespace": "nova-backend"}', "name: expected a Kubernetes object name"),
        (b'{"name": "Feed_Service!", "namespace": "x"}', "name: expected a Kubernetes object name"),
        (b'{"name": "a", "namespace": "b", "metadata": {"n": 1}}', "metadata: expected a map of strings"),
        (b'{"name": "a", "namespace": "b", "metadata": {"phase": "deploy_all"}}', "metadata.phase: unknown phase"),
        (b'{"name": "a", "namespace": "b", "metadata": {"release_version": "v1; rm -rf /"}}', "release_version"),
    ],
)
def test_bad_payload_is_400_with_field_and_reason_and_runs_nothing(serving: Any, body: bytes, reason: str) -> None:
    stub = Stub()
    url, _ = serving(stub)
    with httpx.Client(timeout=10) as client:
        r = client.post(f"{url}/flagger/rollout", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and reason in r.json()["error"]
    assert stub.calls == []


def test_unknown_hook_404_wrong_method_405_oversize_413_and_healthz(serving: Any) -> None:
    url, _ = serving(Stub())
    with httpx.Client(timeout=10) as client:
        assert client.post(f"{url}/flagger/confirm-rollout", json=flagger_payload()).status_code == 404
        assert client.get(f"{url}/flagger/rollout").status_code == 405
        big = client.post(f"{url}/flagger/rollout", content=b"x" * (serve.MAX_BODY + 10))
        assert big.status_code == 413
        health = client.get(f"{url}/healthz").json()
    assert health["ok"] and health["max_concurrent"] == 2 and health["hooks"]["rollout"] == "canary_gate"


def test_full_service_answers_429_and_the_same_call_joins_the_running_one(serving: Any) -> None:
    stub = Stub(delay=1.0)
    url, service = serving(stub, max_concurrent=1)
    results: dict[str, httpx.Response] = {}

    def call(tag: str, name: str) -> None:
        body = flagger_payload()
        body["name"] = name
        with httpx.Client(timeout=10) as client:
            results[tag] = client.post(f"{url}/flagger/rollout", json=body)

    first = threading.Thread(target=call, args=("first", "feed-service"))
    first.start()
    deadline = time.monotonic() + 5
    while not service.running and time.monotonic() < deadline:
        time.sleep(0.01)
    same = threading.Thread(target=call, args=("same", "feed-service"))
    same.start()
    call("other", "auth-service")  # a different canary while the only slot is taken
    first.join(10)
    same.join(10)
    assert results["other"].status_code == 429 and results["other"].headers["Retry-After"] == "30"
    assert results["first"].status_code == 200 and results["same"].status_code == 200
    assert len(stub.calls) == 1  # the duplicate joined the running gate instead of starting another
    with httpx.Client(timeout=10) as client:  # the slot is free again
        assert client.post(f"{url}/flagger/rollout", json=flagger_payload()).status_code == 200


def test_rollout_and_rollback_hooks_of_one_iteration_share_one_gate_run(serving: Any) -> None:
    stub = Stub("ROLLBACK", delay=1.0)
    url, service = serving(stub, max_concurrent=1)
    results: dict[str, httpx.Response] = {}

    def call(hook: str) -> None:
        with httpx.Client(timeout=10) as client:
            results[hook] = client.post(f"{url}/flagger/{hook}", json=flagger_payload())

    first = threading.Thread(target=call, args=("rollout",))
    first.start()
    deadline = time.monotonic() + 5
    while not service.running and time.monotonic() < deadline:
        time.sleep(0.01)
    call("rollback")
    first.join(10)
    assert len(stub.calls) == 1  # one canary gate for both hooks, no 429 although the service holds one run
    assert results["rollout"].status_code == 412 and results["rollback"].status_code == 200


def test_timeout_kills_the_gate_process_group_and_answers_504(serving: Any, tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    script = (
        "import os, subprocess, sys, time; "
        "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        f"open({str(pidfile)!r}, 'w').write(str(c.pid)); time.sleep(60)"
    )
    runner = SubprocessRunner(tmp_path, timeout_s=1.5, command=lambda req, reports: [sys.executable, "-c", script])
    url, _ = serving(runner)
    with httpx.Client(timeout=20) as client:
        t0 = time.monotonic()
        r = client.post(f"{url}/flagger/rollout", json=flagger_payload())
        elapsed = time.monotonic() - t0
    assert r.status_code == 504 and "timed out after 1.5s" in r.json()["detail"], r.text
    assert elapsed < 10
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the gate's child process outlived the timeout"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not reaped by its dead parent yet) is gone for our purpose
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize(
    ("script", "detail"),
    [
        ("import sys; sys.stderr.write('environments/x.yaml:release.version: required'); sys.exit(2)", "no decision"),
        (  # a decision file that contradicts the exit code is not trusted
            "import json, sys; open(sys.argv[1] + '/decision.json', 'w').write(json.dumps({'decision': 'PROCEED'}));"
            " sys.exit(1)",
            "does not match exit 1",
        ),
    ],
)
def test_a_gate_that_could_not_decide_is_500_for_every_hook(
    serving: Any, tmp_path: Path, script: str, detail: str
) -> None:
    runner = SubprocessRunner(tmp_path, command=lambda req, reports: [sys.executable, "-c", script, str(reports)])
    url, _ = serving(runner)
    with httpx.Client(timeout=20) as client:
        for hook in ("rollout", "rollback"):
            r = client.post(f"{url}/flagger/{hook}", json=flagger_payload())
            assert r.status_code == 500 and detail in r.json()["detail"], r.text


def test_subprocess_runner_reads_the_decision_of_its_own_run(tmp_path: Path) -> None:
    script = (
        "import json, sys; open(sys.argv[1] + '/decision.json', 'w').write(json.dumps("
        "{'decision': 'ROLLBACK', 'counts': {'FAIL': 1}, 'phases': {'canary_gate': {'blocking': ['CAN-3']}}}));"
        " sys.exit(1)"
    )
    seen: list[list[str]] = []

    def command(req: GateRequest, reports: Path) -> list[str]:
        seen.append(SubprocessRunner(tmp_path).pytest_command(req, reports))
        return [sys.executable, "-c", script, str(reports)]

    runner = SubprocessRunner(tmp_path, command=command)
    req = serve.parse_payload("rollout", b'{"name": "feed", "namespace": "nova"}', serve.HOOKS)
    result = asyncio.run(runner(req))
    assert (result.decision, result.exit_code, result.blocking) == ("ROLLBACK", 1, ["CAN-3"])
    assert Path(result.reports_dir).parent == tmp_path / "nova.feed"
    assert "-m" in seen[0] and "canary_gate" in seen[0] and "--operator=flagger@nova.feed" in seen[0]


def test_hook_overrides_are_validated() -> None:
    assert serve.parse_hook_overrides(["pre-rollout=predeploy"])["pre-rollout"] == "predeploy"
    for bad in ("pre-rollout", "confirm-rollout=images", "rollout=everything"):
        with pytest.raises(serve.BadRequest, match="--hook"):
            serve.parse_hook_overrides([bad])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--hook", "rollout=deploy_all"], "--hook 'rollout=deploy_all': expected TYPE=PHASE"),
        (["--max-concurrent", "0"], "must be positive"),
        (["--env", "no-such-env"], "no-such-env.yaml:<file>: no such environment file"),
    ],
)
def test_bad_serve_options_exit_2_without_traceback(args: list[str], message: str) -> None:
    import subprocess

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-m", "nova_gate.cli", "serve", "--port", "47812", *args],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
