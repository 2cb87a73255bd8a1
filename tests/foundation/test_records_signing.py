"""Records that hold up: every artifact in a signed manifest; edits, re-hashes and forgeries fail
``nova-gate verify`` and PD-1's record source (HMAC and Ed25519)."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from nova_gate import signing
from nova_gate.sources.audit_records import AuditRecords

ROOT = Path(__file__).resolve().parents[2]
KEY = "k" * 16 + "0123456789abcdef-signing"


def _record(
    directory: Path, decision: str = "PROCEED", base: str = "preflight-v1.0.0-20260101T000000Z", partial: bool = False
) -> str:
    """A record as write_records leaves it: evidence + .sha256, decision, html, then the manifest."""
    body = {"decision": decision, "items": {"PRE-DOC-1": "PASS"}, "phase": "preflight", "version": "v1.0.0"}
    if partial:
        body["partial"] = True
    evidence = json.dumps({"meta": {}, "decision": body, "tests": []}, indent=2) + "\n"
    digest = hashlib.sha256(evidence.encode()).hexdigest()
    (directory / f"{base}.evidence.json").write_text(evidence)
    (directory / f"{base}.evidence.json.sha256").write_text(f"{digest}  {base}.evidence.json\n")
    decision_doc = {**body, "evidence_file": f"{base}.evidence.json", "evidence_sha256": digest}
    (directory / f"{base}.decision.json").write_text(json.dumps(decision_doc))
    (directory / f"{base}.html").write_text("<html>Decision: PROCEED</html>")
    files = [directory / f"{base}{s}" for s in (".evidence.json", ".evidence.json.sha256", ".decision.json", ".html")]
    signing.write_manifest(directory, base, files)
    return base


def _rehash(directory: Path, base: str) -> None:
    """What a forger does after editing: recompute the .sha256 companion."""
    path = directory / f"{base}.evidence.json"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    (directory / f"{base}.evidence.json.sha256").write_text(f"{digest}  {path.name}\n")


def _forge(directory: Path, base: str, old: str, new: str) -> None:
    for suffix in (".evidence.json", ".decision.json"):
        path = directory / f"{base}{suffix}"
        path.write_text(path.read_text().replace(old, new))
    _rehash(directory, base)


def test_unsigned_manifest_catches_edits_of_any_artifact(tmp_path, monkeypatch):
    for var in (signing.HMAC_ENV, signing.ED25519_ENV, signing.ED25519_PUB_ENV):
        monkeypatch.delenv(var, raising=False)
    base = _record(tmp_path)
    assert signing.verify_directory(tmp_path)[0]
    html = tmp_path / f"{base}.html"
    html.write_text(html.read_text().replace("PROCEED", "PROCEEd"))
    ok, lines = signing.verify_directory(tmp_path)
    assert not ok and any(".html: FAIL" in line for line in lines)


def test_decision_file_edited_alone_is_caught(tmp_path, monkeypatch):
    monkeypatch.delenv(signing.HMAC_ENV, raising=False)
    base = _record(tmp_path, "STOP")
    path = tmp_path / f"{base}.decision.json"
    path.write_text(path.read_text().replace('"STOP"', '"PROCEED"'))
    assert not signing.verify_directory(tmp_path)[0]
    [record] = AuditRecords(tmp_path).records("preflight")
    assert record.decision == "STOP" or not record.evidence_ok


def test_hmac_edited_and_rehashed_record_fails(tmp_path, monkeypatch):
    monkeypatch.setenv(signing.HMAC_ENV, KEY)
    base = _record(tmp_path, "STOP")
    assert signing.verify_directory(tmp_path)[0]
    [record] = AuditRecords(tmp_path).records("preflight")
    assert record.evidence_ok and record.decision == "STOP"
    _forge(tmp_path, base, '"STOP"', '"PROCEED"')
    # the forger also rewrites the manifest, but has no key: unsigned
    files = [p for p in tmp_path.iterdir() if not p.name.endswith(signing.MANIFEST_SUFFIX)]
    monkeypatch.delenv(signing.HMAC_ENV)
    signing.write_manifest(tmp_path, base, files)
    monkeypatch.setenv(signing.HMAC_ENV, KEY)
    ok, lines = signing.verify_directory(tmp_path)
    assert not ok and any("not signed" in line for line in lines), lines
    [record] = AuditRecords(tmp_path).records("preflight")
    assert not record.evidence_ok and "not signed" in record.evidence_detail
    # or signs it with a key of their own
    monkeypatch.setenv(signing.HMAC_ENV, "attacker-key-" + "x" * 32)
    signing.write_manifest(tmp_path, base, files)
    monkeypatch.setenv(signing.HMAC_ENV, KEY)
    assert not signing.verify_directory(tmp_path)[0]
    assert not AuditRecords(tmp_path).records("preflight")[0].evidence_ok


def test_hand_made_record_without_manifest_is_rejected_when_a_key_is_configured(tmp_path, monkeypatch):
    monkeypatch.setenv(signing.HMAC_ENV, KEY)
    base = _record(tmp_path)
    (tmp_path / f"{base}{signing.MANIFEST_SUFFIX}").unlink()
    assert not signing.verify_directory(tmp_path)[0]
    [record] = AuditRecords(tmp_path).records("preflight")
    assert not record.evidence_ok and "not signed" in record.evidence_detail


def test_short_hmac_key_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv(signing.HMAC_ENV, "short")
    with pytest.raises(signing.SigningError, match="shorter than"):
        _record(tmp_path)


def test_ed25519_verifier_needs_only_the_public_key(tmp_path, monkeypatch):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    monkeypatch.delenv(signing.HMAC_ENV, raising=False)
    private = Ed25519PrivateKey.generate()
    key_file, pub_file = tmp_path / "key.pem", tmp_path / "pub.pem"
    key_file.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    pub_file.write_bytes(
        private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    records = tmp_path / "r"
    records.mkdir()
    monkeypatch.setenv(signing.ED25519_ENV, str(key_file))
    base = _record(records, "STOP")
    monkeypatch.delenv(signing.ED25519_ENV)
    monkeypatch.setenv(signing.ED25519_PUB_ENV, str(pub_file))
    assert signing.verify_directory(records)[0]
    manifest = records / f"{base}{signing.MANIFEST_SUFFIX}"
    doc = json.loads(manifest.read_text())
    _forge(records, base, '"STOP"', '"PROCEED"')
    doc["files"] = {p.name: signing.sha256_file(p) for p in records.iterdir() if p != manifest}
    manifest.write_text(json.dumps(doc))  # hashes fixed, old signature kept
    ok, lines = signing.verify_directory(records)
    assert not ok and any("does not verify" in line for line in lines), lines


def test_verify_cli_on_a_directory(tmp_path, monkeypatch):
    monkeypatch.setenv(signing.HMAC_ENV, KEY)
    base = _record(tmp_path)
    cli = [sys.executable, "-m", "nova_gate.cli", "verify", str(tmp_path)]
    out = subprocess.run(cli, capture_output=True, text=True, check=False, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    _forge(tmp_path, base, '"PROCEED"', '"PROCEEd"')
    out = subprocess.run(cli, capture_output=True, text=True, check=False, cwd=ROOT)
    assert out.returncode == 1 and "FAIL" in out.stderr and "Traceback" not in out.stderr


def test_a_real_gate_run_writes_a_signed_manifest_of_every_artifact(run_gate, monkeypatch):
    run = run_gate("--item=PRE-DOC-3", env={signing.HMAC_ENV: KEY})
    [manifest] = run.reports.glob(f"*{signing.MANIFEST_SUFFIX}")
    files = json.loads(manifest.read_text())["files"]
    assert {n.rsplit(".", 1)[-1] for n in files} >= {"html", "xml", "json", "sha256"}, files
    monkeypatch.setenv(signing.HMAC_ENV, KEY)
    assert signing.verify_directory(run.reports)[0]
    evidence = next(run.reports.glob("*.evidence.json"))
    text = evidence.read_text()
    edited = re.sub(r'"decision": "(STOP|PARTIAL)"', '"decision": "PROCEED"', text)
    assert edited != text
    evidence.write_text(edited)
    _rehash(run.reports, evidence.name.removesuffix(".evidence.json"))
    assert not signing.verify_directory(run.reports)[0]


def test_pd1_never_takes_a_partial_record_for_the_preflight(tmp_path, monkeypatch):
    import datetime as dt

    from nova_gate.rules.records import preflight_passed

    monkeypatch.delenv(signing.HMAC_ENV, raising=False)
    _record(tmp_path, "PROCEED", partial=True)  # even a (forged) PROCEED that says it is partial
    records = AuditRecords(tmp_path).records("preflight")
    assert records[0].decision == "PARTIAL"
    verdict = preflight_passed(records, "v1.0.0", ["PRE-DOC-1"], dt.timedelta(hours=36), dt.datetime.now(dt.UTC))
    assert verdict.label.blocks
