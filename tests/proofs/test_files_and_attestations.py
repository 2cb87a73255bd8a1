"""Proofs for items judged from files a person or an earlier run wrote: attestations and PD-1."""

from __future__ import annotations

import datetime as dt
import os
import time

import pytest
import yaml

from nova_gate.catalog import load_catalog

HUMAN_ITEMS = [i.id for i in load_catalog() if i.verification == "attestation"]


def _attestations(path, **by_item):
    path.write_text(
        yaml.safe_dump(
            {
                "attestations": [
                    {"item": item, "by": "jane.doe", "note": "done", "at": at, "version": version}
                    for item, (at, version) in by_item.items()
                ]
            }
        )
    )


def test_attestations_pass_fresh_and_fail_stale_missing_or_other_version(gate_run, env_file, tmp_path):
    now = dt.datetime.now(dt.UTC)
    path = tmp_path / "attestations.yaml"
    env = env_file({"files.attestations": str(path)})
    fresh = {i: (now.isoformat(), "v1.0.0") for i in HUMAN_ITEMS}
    _attestations(path, **fresh)
    run = gate_run(HUMAN_ITEMS, env_file=env)
    assert set(run.labels().values()) == {"PASS"}, run.explain()
    stale, other, missing = HUMAN_ITEMS[0], HUMAN_ITEMS[1], HUMAN_ITEMS[2]
    broken = dict(fresh)
    broken[stale] = ((now - dt.timedelta(hours=30)).isoformat(), "v1.0.0")
    broken[other] = (now.isoformat(), "v0.9.0")
    del broken[missing]
    _attestations(path, **broken)
    run = gate_run(HUMAN_ITEMS, env_file=env)
    labels = run.labels()
    assert labels[stale] == labels[other] == labels[missing] == "FAIL", run.explain()
    assert "h old" in run.decision["reasons"][stale][0]


@pytest.fixture
def preflight_waivers(tmp_path):
    """Waive the preflight items that are not automated yet, as a release manager would."""
    pending = [i.id for i in load_catalog().in_phase("preflight") if not i.automated]
    path = tmp_path / "waivers.yaml"
    expires = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    path.write_text(
        yaml.safe_dump(
            {
                "waivers": [
                    {
                        "item": i,
                        "justification": "checked by hand for this proof",
                        "approver": "jane.doe",
                        "expires": expires,
                    }
                    for i in pending
                ]
            }
        )
    )
    return path


@pytest.mark.timeout(300)  # a whole preflight and six PD-1 runs
def test_pd1_needs_a_fresh_intact_passing_preflight(gate_run, env_file, tmp_path, preflight_waivers):
    records = tmp_path / "records"
    attestations = tmp_path / "attestations.yaml"
    now = dt.datetime.now(dt.UTC).isoformat()
    _attestations(attestations, **{i: (now, "v1.0.0") for i in HUMAN_ITEMS})
    env = env_file({"files.preflight_records": str(records), "files.attestations": str(attestations)})
    # no record at all
    records.mkdir()
    run = gate_run(["PD-1"], env_file=env)
    assert run.labels()["PD-1"] == "FAIL" and "no preflight record" in run.explain()
    # a full, passing preflight written into the records directory
    from nova_gate.testing import run_gate
    from tests.proofs.conftest import ROOT

    pre = run_gate(
        "-m", "preflight", f"--waivers={preflight_waivers}", root=ROOT, env_file=env, reports=records, options=("-q",)
    )
    assert pre.returncode == 0, pre.stdout[-3000:]
    run = gate_run(["PD-1"], env_file=env)
    assert run.labels()["PD-1"] == "PASS", run.explain()
    # the same record, tampered with
    evidence = next(records.glob("preflight-*.evidence.json"))
    original = evidence.read_bytes()
    evidence.write_bytes(original.replace(b'"PROCEED"', b'"PROCEEd"', 1))
    run = gate_run(["PD-1"], env_file=env)
    assert run.labels()["PD-1"] == "FAIL" and "does not verify" in run.explain()
    evidence.write_bytes(original)
    # copied or touched: the age is the record's own finish time, not the file's
    old = time.time() - 48 * 3600
    for path in records.glob("preflight-*"):
        os.utime(path, (old, old))
    run = gate_run(["PD-1"], env_file=env)
    assert run.labels()["PD-1"] == "PASS", run.explain()
    # a record that finished 48 h ago (rewritten as that run would have written it, hash and all)
    _finished_at(records, dt.datetime.now(dt.UTC) - dt.timedelta(hours=48))
    run = gate_run(["PD-1"], env_file=env)
    assert run.labels()["PD-1"] == "FAIL" and "h old" in run.explain()


def _finished_at(records, when: dt.datetime) -> None:
    """Rewrite each preflight record as if its run had finished at ``when`` (decision, evidence, SHA-256)."""
    import hashlib
    import json

    stamp = when.isoformat(timespec="seconds")
    for evidence in records.glob("preflight-*.evidence.json"):
        doc = json.loads(evidence.read_text())
        doc["decision"]["finished"] = doc["meta"]["Finished (UTC)"] = stamp
        text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
        evidence.write_text(text)
        digest = hashlib.sha256(text.encode()).hexdigest()
        evidence.with_name(evidence.name + ".sha256").write_text(f"{digest}  {evidence.name}\n")
        decision = evidence.with_name(evidence.name.removesuffix(".evidence.json") + ".decision.json")
        record = json.loads(decision.read_text())
        record.update(finished=stamp, evidence_sha256=digest)
        decision.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
