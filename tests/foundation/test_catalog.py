import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from nova_gate.catalog import BACKENDS, PHASES, load_catalog

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "checklist-items.tsv"


def test_catalog_has_every_item_of_the_shared_list():
    if not SHARED.exists():
        pytest.skip("../shared/checklist-items.tsv not present beside this checkout")
    with SHARED.open() as f:
        shared = [row["id"] for row in csv.DictReader(f, delimiter="\t")]
    catalog = load_catalog()
    assert catalog.ids == shared
    with SHARED.open() as f:
        for row in csv.DictReader(f, delimiter="\t"):
            item = catalog[row["id"]]
            assert item.phase == row["phase_marker"]
            assert item.severity == row["on_failure"]
            assert item.text == row["checklist_text"]


def test_catalog_values_are_closed_sets():
    for item in load_catalog():
        assert item.phase in PHASES
        assert set(item.backends) <= set(BACKENDS)


def _collected() -> dict[str, list[str]]:
    from nova_gate.cli import collect_node_ids

    return collect_node_ids()


def test_every_item_is_collected_and_automation_flags_are_true():
    """automated=yes iff a real check exists. An item with automated=no has no test: the decision
    judges it FAIL "not automated yet" (nova_gate.decision; tests/unit/test_decision.py)."""
    nodes = _collected()
    for item in load_catalog():
        tests = nodes.get(item.id, [])
        if item.automated:
            assert tests, f"{item.id}: automated=yes needs a real check"
        else:
            assert not tests, f"{item.id}: has a real check, set automated=yes: {tests}"


@pytest.mark.parametrize("phase", PHASES)
def test_collect_only_by_phase_lists_every_item_of_the_phase(phase):
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "--no-reports", "-m", phase],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr + out.stdout
    nodes = _collected()
    expected = {i.id for i in load_catalog().in_phase(phase)}
    listed = set(out.stdout.split())
    for item_id in expected:
        assert set(nodes[item_id]) & listed, f"{item_id} not selected by -m {phase}"


def test_items_json_lists_all_items_with_status():
    out = subprocess.run(
        [sys.executable, "-m", "nova_gate.cli", "items", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    rows = json.loads(out.stdout)
    assert len(rows) == len(load_catalog())
    assert all(isinstance(r["automated"], bool) and r["tests"] for r in rows)
