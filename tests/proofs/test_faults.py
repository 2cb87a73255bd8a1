"""Every sandbox fault is caught by the items it names, and every automated probe has a fault.

For each fault: inject it for real, run the gate of the items that must catch it, assert their
verdict, undo it, and assert the same items pass again.
"""

from __future__ import annotations

import pytest

from nova_gate.catalog import load_catalog
from nova_gate.sandbox import manager

FAULTS = manager.faults()
# Items proven by other means than a sandbox fault (their proofs live in the files named here).
PROVEN_ELSEWHERE = {
    "attestation": "test_files_and_attestations.py",
    "files": "test_files_and_attestations.py",
}


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_fault_is_caught_then_healed(name, gate_run):
    fault = FAULTS[name]
    manager.fault(name)
    try:
        broken = gate_run(list(fault.catches))
        labels = broken.labels()
        for item_id in fault.catches:
            assert labels.get(item_id) == fault.expect, (
                f"{name}: {item_id} gave {labels.get(item_id)}, expected {fault.expect}\n{broken.explain()}")
        assert broken.decision["decision"] != "PROCEED" or fault.expect == "WARN"
    finally:
        manager.fault(name, undo=True)
    healed = gate_run(list(fault.catches))
    assert set(healed.labels().values()) == {"PASS"}, f"{name} undone, still:\n{healed.explain()}"


def test_every_automated_probe_can_be_made_to_fail():
    caught = {item for fault in FAULTS.values() for item in fault.catches}
    missing = [i.id for i in load_catalog()
               if i.automated and i.verification not in PROVEN_ELSEWHERE and i.id not in caught]
    assert not missing, f"automated probes without a fault proof: {missing}"
