"""The decision, waivers, exit codes and the audit record, on real gate runs."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import yaml

from nova_gate.plugin import EXIT_ROLLBACK, EXIT_STOP
from nova_gate.report import verify_evidence

ROOT = Path(__file__).resolve().parents[2]
FAILING = "PRE-DOC-1"  # with --release-version=v9.9.9 there are no release notes: FAIL
UNKNOWN_VERSION = "--release-version=v9.9.9"
PASSING = "PRE-DOC-3"  # rollback document in the sandbox release repository


def test_failing_item_stops_the_preflight(run_gate):
    run = run_gate(f"--item={FAILING}", f"--item={PASSING}", UNKNOWN_VERSION)
    assert run.returncode == EXIT_STOP, run.output
    d = run.decision
    assert d["decision"] == "STOP"
    assert d["items"] == {FAILING: "FAIL", PASSING: "PASS"}
    assert "no release notes for v9.9.9" in d["reasons"][FAILING][0]


def test_failure_after_migrations_means_rollback(run_gate):
    run = run_gate("--item=P24-6", UNKNOWN_VERSION)  # no changelog entry for v9.9.9
    assert run.decision["items"]["P24-6"] == "FAIL"
    assert run.decision["decision"] == "ROLLBACK"
    assert run.returncode == EXIT_ROLLBACK


def test_report_only_records_but_exits_0(run_gate):
    run = run_gate(f"--item={FAILING}", UNKNOWN_VERSION, "--report-only")
    assert run.returncode == 0
    assert run.decision["decision"] == "STOP"


def test_narrowed_passing_selection_is_partial_never_proceed_and_writes_the_record(run_gate):
    run = run_gate(f"--item={PASSING}", "--operator=release-bot")
    assert run.returncode == 12, run.output  # EXIT_PARTIAL
    assert run.decision["decision"] == "PARTIAL" and run.decision["partial"] is True
    assert "partial run" in run.output
    names = {p.name for p in run.reports.iterdir()}
    assert re.compile(r"preflight-v1\.0\.0-\d{8}T\d{6}Z-[0-9a-f]{8}\.html").fullmatch(
        next(n for n in names if n.endswith(".html"))
    )
    assert any(n.endswith(".xml") for n in names)
    ok, _ = verify_evidence(run.reports / "evidence.json")
    assert ok
    html = next(run.reports.glob("*.html")).read_text()
    for expected in (
        "Decision: PARTIAL",
        "partial run: 1 of",
        "release-bot",
        "Config sha256",
        "Rollback procedure documented",
        "nova-evidence",
    ):
        assert expected in html, expected


def test_verify_rejects_a_one_byte_edit(run_gate, tmp_path):
    run = run_gate(f"--item={PASSING}")
    evidence = run.reports / "evidence.json"
    cli = [sys.executable, "-m", "nova_gate.cli", "verify", str(evidence)]
    assert subprocess.run(cli, capture_output=True, check=False).returncode == 0
    data = bytearray(evidence.read_bytes())
    data[len(data) // 2] ^= 0x01
    evidence.write_bytes(bytes(data))
    out = subprocess.run(cli, capture_output=True, text=True, check=False)
    assert out.returncode == 1 and "mismatch" in out.stderr


def _waivers(tmp_path: Path, **entry) -> Path:
    path = tmp_path / "waivers.yaml"
    path.write_text(yaml.safe_dump({"waivers": [entry]}))
    return path


def test_valid_waiver_turns_fail_into_waived_not_pass(run_gate, tmp_path):
    expires = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    waivers = _waivers(
        tmp_path,
        item=FAILING,
        justification="notes are on the wiki this time",
        approver="jane.doe",
        expires=expires,
    )
    run = run_gate(f"--item={FAILING}", UNKNOWN_VERSION, f"--waivers={waivers}")
    assert run.decision["items"][FAILING] == "WAIVED"
    assert run.decision["decision"] == "PARTIAL"  # waived, not failed; but --item is never a PROCEED
    assert run.decision["phases"]["preflight"]["waived"] == [FAILING]
    assert "WAIVED: 1 item(s)" in run.output


def test_expired_or_malformed_waiver_is_an_error(run_gate, tmp_path):
    expired = _waivers(tmp_path, item=FAILING, justification="x", approver="y", expires="2020-01-01")
    run = run_gate(f"--item={FAILING}", f"--waivers={expired}")
    assert run.returncode == 2 and "expired" in run.output and "Traceback" not in run.output
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    bad = _waivers(tmp_path, item=FAILING, approver="jane.doe", expires=tomorrow)
    run = run_gate(f"--item={FAILING}", f"--waivers={bad}")
    assert run.returncode == 2 and "justification" in run.output


def test_no_secret_in_any_report(run_gate):
    secret = "pg-secret-that-must-not-leak"
    run = run_gate("--item=PST-7", "--item=PD-4", env={"NOVA_GATE_PG_PASSWORD": secret})
    assert run.decision  # the run happened (wrong password: FAIL, with a reason)
    for path in run.reports.iterdir():
        assert secret not in path.read_text(errors="replace"), path.name
    assert secret not in run.output
