"""The decision on its own (no servers): a run narrower than its phase is PARTIAL, never PROCEED;
a phase with more than the allowed share waived does not proceed; the record says so loudly."""

from __future__ import annotations

import datetime as dt

from nova_gate import report
from nova_gate.catalog import load_catalog
from nova_gate.config import load_environment
from nova_gate.policy import Waiver
from nova_gate.session import RunState
from nova_gate.session import TestRecord as Record
from nova_gate.verdict import Label

CATALOG = load_catalog()
PREFLIGHT = [i.id for i in CATALOG.in_phase("preflight")]


def _state(labels: dict[str, Label], *, waived: list[str] = (), skip: list[str] = (), narrowed=()) -> RunState:
    st = RunState(
        loaded=load_environment("sandbox"),
        catalog=CATALOG,
        waivers=[
            Waiver(i, "reviewed by the release board", "jane.doe", dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
            for i in waived
        ],
        reports_dir=None,  # type: ignore[arg-type]
        started=dt.datetime.now(dt.UTC),
        secrets=[],
    )
    for item in PREFLIGHT:
        st.tests_per_item[item] = 1
        if item in skip:
            continue
        nodeid = f"checks/test_x.py::test_{item}"
        st.collected[nodeid] = [item]
        label = labels.get(item, Label.PASS)
        st.records[nodeid] = Record(nodeid, [item], label, "why", None, [], {}, 0.1)
    st.selected_phases = ["preflight"]
    st.narrowed_by = list(narrowed)
    return st


def _decide(st: RunState) -> dict:
    st.decide()
    return report.decision_document(st)


def test_the_whole_phase_passing_proceeds():
    d = _decide(_state({}))
    assert d["decision"] == "PROCEED" and not d["partial"]


def test_a_missing_item_makes_the_run_partial():
    d = _decide(_state({}, skip=[PREFLIGHT[3]]))
    assert d["decision"] == "PARTIAL" and d["partial"]
    assert d["phases"]["preflight"]["missing_items"] == [PREFLIGHT[3]]


def test_narrowing_options_make_it_partial_even_when_every_item_ran():
    d = _decide(_state({}, narrowed=["-k auth"]))
    assert d["decision"] == "PARTIAL"
    assert "-k auth" in d["phases"]["preflight"]["notes"][0]


def test_fewer_tests_than_collected_is_partial():
    st = _state({})
    st.tests_per_item[PREFLIGHT[0]] = 11  # e.g. -k selected one service's parametrization
    assert _decide(st)["decision"] == "PARTIAL"


def test_a_failure_in_a_partial_run_still_stops():
    d = _decide(_state({PREFLIGHT[0]: Label.FAIL}, skip=[PREFLIGHT[3]]))
    assert d["decision"] == "STOP"


def test_waivers_above_the_cap_stop_the_phase():
    cap = load_environment("sandbox").env.policy.max_waived_share_pct
    n = int(len(PREFLIGHT) * cap / 100) + 1
    failing = {i: Label.FAIL for i in PREFLIGHT[:n]}
    d = _decide(_state(failing, waived=PREFLIGHT[:n]))
    phase = d["phases"]["preflight"]
    assert d["decision"] == "STOP" and len(phase["waived"]) == n
    assert "above the cap" in phase["notes"][0]
    d = _decide(_state(dict(list(failing.items())[:1]), waived=PREFLIGHT[:1]))
    assert d["decision"] == "PROCEED" and d["phases"]["preflight"]["waived_share_pct"] > 0


def test_the_html_summary_shows_partial_and_waived_loudly():
    st = _state({PREFLIGHT[0]: Label.FAIL}, waived=PREFLIGHT[:1], skip=[PREFLIGHT[5]])
    st.decide()
    html = "".join(report.html_summary(st))
    assert "Decision: PARTIAL" in html and "nova-warning" in html and "WAIVED 1 item" in html
