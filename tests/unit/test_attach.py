"""``nova-gate attach`` against a local Jira stand-in that checks the calls as Jira documents them."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nova_gate.sandbox.jira import JiraState, create_app
from tests.unit.asgi_server import Server

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "jira-api-token-s3cr3t-value"
EMAIL = "release-bot@example.com"


@pytest.fixture
def jira() -> Iterator[tuple[str, JiraState]]:
    state = JiraState(email=EMAIL, token=TOKEN, issues={"REL-42": "Release v1.0.0"})
    with Server(create_app(state)) as url:
        yield url, state


def write_record(reports: Path, phase: str = "canary_gate", decision: str = "ROLLBACK") -> dict[str, Any]:
    reports.mkdir(parents=True, exist_ok=True)
    base = f"{phase}-v1.0.0-20260101T000000Z"
    evidence = json.dumps({"decision": decision}) + "\n"
    digest = hashlib.sha256(evidence.encode()).hexdigest()
    (reports / f"{base}.html").write_text(f"<html><body>{phase} {decision}</body></html>")
    (reports / f"{base}.evidence.json").write_text(evidence)
    (reports / f"{base}.evidence.json.sha256").write_text(f"{digest}  {base}.evidence.json\n")
    doc = {
        "phase": phase,
        "decision": decision,
        "counts": {"PASS": 8, "WARN": 0, "FAIL": 2, "INCONCLUSIVE": 0, "WAIVED": 0},
        "items": {"CAN-1": "PASS", "CAN-3": "FAIL", "CAN-10": "FAIL"} if decision != "PROCEED" else {"CAN-1": "PASS"},
        "reasons": {"CAN-3": ["test_error_rate: error rate of v1.0.0 4.1% > 1% sustained 9 min"]},
        "version": "v1.0.0",
        "baseline_version": "v0.9.0",
        "environment": "sandbox",
        "evidence_sha256": digest,
        "evidence_file": f"{base}.evidence.json",
    }
    (reports / "decision.json").write_text(json.dumps(doc))
    return doc


def run_attach(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("NOVA_GATE_JIRA")}
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "nova_gate.cli", "attach", *args],
        cwd=ROOT,
        env={**full, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def creds(url: str, user: str = EMAIL, token: str = TOKEN) -> dict[str, str]:
    return {"NOVA_GATE_JIRA_URL": url, "NOVA_GATE_JIRA_USER": user, "NOVA_GATE_JIRA_TOKEN": token}


def test_attaches_the_record_and_comments_the_decision_as_jira_documents(
    jira: tuple[str, JiraState], tmp_path: Path
) -> None:
    url, state = jira
    doc = write_record(tmp_path / "reports")
    proc = run_attach("--ticket", "REL-42", f"--reports-dir={tmp_path / 'reports'}", env=creds(url))
    assert proc.returncode == 0, proc.stderr
    assert TOKEN not in proc.stdout + proc.stderr
    names = [a["filename"] for a in state.attachments["REL-42"]]
    base = "canary_gate-v1.0.0-20260101T000000Z"
    assert names == [f"{base}.html", f"{base}.evidence.json", f"{base}.evidence.json.sha256"]
    assert state.attachments["REL-42"][0]["mimeType"] == "text/html"
    assert state.attachments["REL-42"][1]["_data"] == (tmp_path / "reports" / f"{base}.evidence.json").read_bytes()
    # the calls: read the ticket first, each upload with Jira's XSRF header and basic auth
    calls = [(c["method"], c["path"]) for c in state.calls]
    assert calls[0] == ("GET", "/rest/api/3/issue/REL-42") and state.calls[0]["query"] == {"fields": "summary"}
    assert calls[1:4] == [("POST", "/rest/api/3/issue/REL-42/attachments")] * 3
    assert calls[4] == ("POST", "/rest/api/3/issue/REL-42/comment")
    assert all(c["authorised"] for c in state.calls)
    assert all(c["headers"]["x-atlassian-token"] == "no-check" for c in state.calls[1:4])
    assert all(TOKEN not in json.dumps(c) for c in state.calls)  # only in the Authorization header
    # the comment: ADF with the decision, the failing item and its reason, the evidence hash
    body = json.dumps(state.comments["REL-42"][0]["body"])
    assert '"type": "doc"' in body and '"version": 1' in body
    assert "ROLLBACK" in body and "CAN-3" in body and "4.1% > 1%" in body and doc["evidence_sha256"] in body
    assert "REL-42" in proc.stdout and "canary_gate ROLLBACK" in proc.stdout


def test_bearer_token_without_user(jira: tuple[str, JiraState], tmp_path: Path) -> None:
    url, state = jira
    write_record(tmp_path / "r", decision="PROCEED")
    env = creds(url)
    del env["NOVA_GATE_JIRA_USER"]
    proc = run_attach("--ticket", "rel-42", f"--reports-dir={tmp_path / 'r'}", env=env)  # keys: any case
    assert proc.returncode == 0, proc.stderr
    assert state.calls[0]["authorised"]


def test_walk_directory_attaches_index_and_every_phase(jira: tuple[str, JiraState], tmp_path: Path) -> None:
    url, state = jira
    walk = tmp_path / "walk"
    phases = []
    for phase, decision in (("canary_gate", "ROLLBACK"), ("rollback", "PROCEED")):
        d = write_record(walk, phase, decision)
        base = d["evidence_file"].removesuffix(".evidence.json")
        phases.append({**d, "html": f"{base}.html", "evidence": d["evidence_file"]})
    (walk / "walk-bad-canary-1.html").write_text("<html>index</html>")
    manifest = walk / "walk-bad-canary-1.json"
    manifest.write_text(json.dumps({"name": "bad-canary", "index_html": "walk-bad-canary-1.html", "phases": phases}))
    proc = run_attach("--ticket", "REL-42", f"--walk={manifest}", env=creds(url))
    assert proc.returncode == 0, proc.stderr
    names = [a["filename"] for a in state.attachments["REL-42"]]
    assert names[0] == "walk-bad-canary-1.html" and len(names) == 7
    body = json.dumps(state.comments["REL-42"][0]["body"])
    assert "walk bad-canary" in body and "canary_gate: " in body and "rollback: " in body


@pytest.mark.parametrize(
    ("args", "env_change", "code", "message"),
    [
        (["--ticket", "REL-42"], {"NOVA_GATE_JIRA_TOKEN": ""}, 2, "NOVA_GATE_JIRA_TOKEN: not set"),
        (["--ticket", "REL-42"], {"NOVA_GATE_JIRA_URL": ""}, 2, "NOVA_GATE_JIRA_URL: not set"),
        (["--ticket", "rel 42; drop"], {}, 2, "not a Jira issue key"),
        (["--ticket", "REL-999"], {}, 2, "unknown ticket REL-999 (HTTP 404: Issue does not exist"),
        (["--ticket", "REL-42"], {"NOVA_GATE_JIRA_TOKEN": "wrong-token-value"}, 1, "HTTP 401"),
    ],
)
def test_clear_errors_and_no_token_in_them(
    jira: tuple[str, JiraState],
    tmp_path: Path,
    args: list[str],
    env_change: dict[str, str],
    code: int,
    message: str,
) -> None:
    url, state = jira
    write_record(tmp_path / "r")
    env = {**creds(url), **env_change}
    proc = run_attach(*args, f"--reports-dir={tmp_path / 'r'}", env=env)
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert TOKEN not in proc.stdout + proc.stderr and "wrong-token-value" not in proc.stderr
    assert not state.attachments and not state.comments  # nothing half-attached


def test_walk_with_a_missing_file_is_bad_input(tmp_path: Path) -> None:
    manifest = tmp_path / "walk.json"
    manifest.write_text(json.dumps({"name": "w", "index_html": "gone.html", "phases": []}))
    proc = run_attach("--ticket", "REL-42", f"--walk={manifest}", env=creds("http://127.0.0.1:9"))
    assert proc.returncode == 2 and "files of the walk are missing" in proc.stderr
    manifest.write_text("[]")
    proc = run_attach("--ticket", "REL-42", f"--walk={manifest}", env=creds("http://127.0.0.1:9"))
    assert proc.returncode == 2 and "not a walk index" in proc.stderr


def test_no_record_and_unreachable_jira(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    proc = run_attach("--ticket", "REL-42", f"--reports-dir={tmp_path / 'empty'}", env=creds("http://127.0.0.1:9"))
    assert proc.returncode == 2 and "no audit record here" in proc.stderr
    write_record(tmp_path / "r")
    proc = run_attach("--ticket", "REL-42", f"--reports-dir={tmp_path / 'r'}", env=creds("http://127.0.0.1:9"))
    assert proc.returncode == 1 and "unreachable" in proc.stderr and TOKEN not in proc.stderr


def test_a_failure_half_way_names_what_is_already_attached(jira: tuple[str, JiraState], tmp_path: Path) -> None:
    url, state = jira
    state.max_bytes = 100  # Jira's attachment size limit: the HTML (small) passes, the evidence does not
    doc = write_record(tmp_path / "r")
    (tmp_path / "r" / doc["evidence_file"]).write_text("x" * 500)
    proc = run_attach("--ticket", "REL-42", f"--reports-dir={tmp_path / 'r'}", env=creds(url))
    assert proc.returncode == 1 and "HTTP 413" in proc.stderr, proc.stderr
    assert "already attached: canary_gate-v1.0.0-20260101T000000Z.html" in proc.stderr
    assert not state.comments  # no decision comment for a record that is not all there


def test_the_stand_in_refuses_uploads_without_the_xsrf_header(jira: tuple[str, JiraState]) -> None:
    import httpx

    url, state = jira
    with httpx.Client(timeout=10, auth=(EMAIL, TOKEN)) as client:
        r = client.post(f"{url}/rest/api/3/issue/REL-42/attachments", files={"file": ("a.txt", b"x")})
        assert r.status_code == 403 and "XSRF" in r.text
        r = client.post(f"{url}/rest/api/3/issue/REL-42/comment", json={"body": "plain text is v2, not v3"})
        assert r.status_code == 400
    assert not state.attachments
