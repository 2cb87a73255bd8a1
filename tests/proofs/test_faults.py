"""Every sandbox fault is caught by the items it names, and every automated probe has a fault.

For each fault: inject it for real, run the gate of the items that must catch it, assert their
verdict, undo it, and assert the same items pass again.
"""

from __future__ import annotations

import pytest

from nova_gate.catalog import load_catalog
from nova_gate.sandbox import manager, stages
from tests.proofs.test_metric_scenarios import PROVEN_ITEMS

FAULTS = manager.faults()
CATALOG = load_catalog()
# Items proven by other means than a sandbox fault: test_files_and_attestations.py (attestations,
# PD-1) and test_metric_scenarios.py (metric gates, proven by Prometheus history scenarios).
PROVEN_ELSEWHERE = {i.id for i in CATALOG if i.verification == "attestation"} | {"PD-1"} | PROVEN_ITEMS


def _environment(fault, env_file, tmp_path):
    """The fault's own environment when it needs one: a history of its own (seen_healthy_first), and
    fresh attestations of the items it names that a person also signs (PRE-MON-5: PagerDuty's on-call
    and the attestation are both checked), so the healthy and healed runs are judged on the probe."""
    from nova_gate.policy import attest

    changes: dict[str, str] = {}
    if fault.seen_healthy_first:
        changes["files.preflight_records"] = str(tmp_path / "records")
    signed = [i for i in fault.catches if CATALOG[i].verification == "attestation"]
    if signed:
        changes["files.attestations"] = str(tmp_path / "attestations.yaml")
    if not changes:
        return None
    path = env_file(changes)
    for item in signed:
        attest(item, "sandbox-proof", "the fault proof signs it as a person would", env=str(path))
    return path


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_fault_is_caught_then_healed(name, gate_run, env_file, tmp_path):
    fault = FAULTS[name]
    run_env = _environment(fault, env_file, tmp_path)
    with stages.at(fault.stage):
        if fault.seen_healthy_first:
            # a fault judged against history (PRE-CFG-3's key history): the gate sees the healthy state first
            before = gate_run(list(fault.catches), env_file=run_env)
            assert set(before.labels().values()) == {"PASS"}, f"{name} before the fault:\n{before.explain()}"
        manager.fault(name)
        try:
            broken = gate_run(list(fault.catches), env_file=run_env)
            labels = broken.labels()
            for item_id in fault.catches:
                assert labels.get(item_id) == fault.expect, (
                    f"{name}: {item_id} gave {labels.get(item_id)}, expected {fault.expect}\n{broken.explain()}"
                )
            if fault.expect == "FAIL":
                assert broken.decision["decision"] != "PROCEED"
        finally:
            manager.fault(name, undo=True)
        healed = gate_run(list(fault.catches), env_file=run_env)
        assert set(healed.labels().values()) == {"PASS"}, f"{name} undone, still:\n{healed.explain()}"


def test_every_automated_probe_can_be_made_to_fail():
    caught = {item for fault in FAULTS.values() for item in fault.catches}
    missing = [i.id for i in CATALOG if i.automated and i.id not in PROVEN_ELSEWHERE and i.id not in caught]
    assert not missing, f"automated probes without a fault proof: {missing}"
