"""The watch reads its own metric-only record: PARTIAL is a pass only when every metric item was judged."""

from __future__ import annotations

import pytest

from nova_gate.catalog import load_catalog
from nova_gate.watch import metric_only

PHASE = "canary_gate"
METRIC = [i.id for i in load_catalog().in_phase(PHASE) if "prometheus" in i.backends]
OTHER = [i.id for i in load_catalog().in_phase(PHASE) if "prometheus" not in i.backends]


def _record(items: dict[str, str], missing: list[str], notes: list[str] | None = None, decision="PARTIAL"):
    notes = notes if notes is not None else ["partial run: ...: a partial run never decides PROCEED"]
    return {
        "decision": decision,
        "items": items,
        "phases": {PHASE: {"decision": decision, "missing_items": missing, "notes": notes}},
    }


def test_every_metric_item_judged_and_passing_is_proceed_for_the_watch():
    out = metric_only(_record(dict.fromkeys(METRIC, "PASS"), OTHER), PHASE)
    assert out["decision"] == "PROCEED" and out["record_decision"] == "PARTIAL"


@pytest.mark.parametrize("gone", range(len(METRIC)))
def test_a_metric_item_not_judged_is_no_pass(gone):
    items = {i: "PASS" for n, i in enumerate(METRIC) if n != gone}
    out = metric_only(_record(items, [*OTHER, METRIC[gone]]), PHASE)
    assert out["decision"] == "PARTIAL" and METRIC[gone] in out["watch_note"]


def test_fewer_tests_than_collected_is_no_pass():
    notes = [f"partial run: fewer tests than collected for {METRIC[0]}: a partial run never decides PROCEED"]
    assert metric_only(_record(dict.fromkeys(METRIC, "PASS"), OTHER, notes), PHASE)["decision"] == "PARTIAL"


@pytest.mark.parametrize("decision", ["PROCEED", "ROLLBACK", "STOP"])
def test_other_decisions_are_read_as_they_are(decision):
    record = _record(dict.fromkeys(METRIC, "PASS"), [], decision=decision)
    assert metric_only(record, PHASE) == record


def test_warn_and_waived_metric_items_still_pass_the_watch():
    items = dict.fromkeys(METRIC, "PASS") | {METRIC[0]: "WARN", METRIC[1]: "WAIVED"}
    assert metric_only(_record(items, OTHER), PHASE)["decision"] == "PROCEED"
