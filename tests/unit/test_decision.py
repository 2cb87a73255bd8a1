"""The decision on hand-built records, without pytest's plugin, servers or files (nova_gate.decision).

Fixed cases for every rule, then randomised properties over many generated runs: worst-of is
monotone, a waiver never lets a phase PROCEED beyond the cap, a narrowed run never PROCEEDs, an
INCONCLUSIVE that is not waived blocks, and the exit code always follows the decision.
"""

from __future__ import annotations

import ast
import datetime as dt
import random
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from nova_gate import decision as d
from nova_gate.catalog import PHASES, STOP_PHASES, Catalog, Item, load_catalog
from nova_gate.decision import Outcome, Record, Scope, decide
from nova_gate.policy import Waiver
from nova_gate.verdict import Label, failed, inconclusive, passed, warned

NOW = dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC)
L = Label


@dataclass(frozen=True)
class Policy:
    approvers: list[str] = field(default_factory=lambda: ["jane.doe", "release-manager"])
    waiver_max_days: float = 14
    max_waived_share_pct: float = 20


POLICY = Policy()


def _item(item_id: str, phase: str, severity: str = "block", automated: bool = True) -> Item:
    return Item(item_id, phase, "", severity, "probe", (), automated, "test", f"item {item_id}")


def _catalog(per_phase: dict[str, int]) -> Catalog:
    return Catalog([_item(f"{p[:3].upper()}-{n}", p) for p, count in per_phase.items() for n in range(1, count + 1)])


CAT = _catalog({"preflight": 5, "canary_gate": 5})
PRE = [i.id for i in CAT.in_phase("preflight")]
CAN = [i.id for i in CAT.in_phase("canary_gate")]


def _records(labels: dict[str, Label | None]) -> list[Record]:
    return [Record(f"checks/test_x.py::test_{i}", (i,), label, f"why {i}") for i, label in labels.items()]


def _all(ids: list[str], label: Label = L.PASS, **override: Label | None) -> dict[str, Label | None]:
    out: dict[str, Label | None] = dict.fromkeys(ids, label)
    out.update({k.replace("_", "-"): v for k, v in override.items()})
    return out


def _waiver(target: str, *, approver: str = "jane.doe", days: float = 3) -> Waiver:
    return Waiver(target, "reviewed by the release board", approver, NOW + dt.timedelta(days=days))


def _decide(labels, phases=("preflight",), waivers=(), policy=POLICY, catalog=CAT, **scope):
    return decide(_records(labels), catalog, waivers, Scope(phases=tuple(phases), **scope), policy, now=NOW)


# --------------------------------------------------------------------------------------------
# Fixed cases
# --------------------------------------------------------------------------------------------
def test_a_whole_passing_phase_proceeds_with_exit_0():
    dec = _decide(_all(PRE))
    assert dec.decision is Outcome.PROCEED and not dec.partial
    assert dec.exit_code() == 0 and dec.as_dict()["decision"] == "PROCEED"


@pytest.mark.parametrize("bad", [L.FAIL, L.INCONCLUSIVE])
@pytest.mark.parametrize(("phase", "outcome", "code"), [("preflight", "STOP", 10), ("canary_gate", "ROLLBACK", 11)])
def test_a_blocking_verdict_stops_before_any_change_and_rolls_back_after(bad, phase, outcome, code):
    ids = CAT.in_phase(phase)
    labels = _all([i.id for i in ids])
    labels[ids[2].id] = bad
    dec = _decide(labels, phases=[phase])
    assert dec.decision == outcome and dec.exit_code() == code
    assert dec.phases[phase].blocking == [ids[2].id]
    assert dec.reasons[ids[2].id] == [f"test_{ids[2].id}: why {ids[2].id}"]


def test_warn_passes_and_is_counted():
    dec = _decide(_all(PRE, PRE_2=L.WARN))
    assert dec.decision is Outcome.PROCEED and dec.phases["preflight"].counts["WARN"] == 1


def test_worst_of_an_items_tests():
    records = [Record("a::t1", ("PRE-1",), L.PASS), Record("a::t2", ("PRE-1",), L.WARN)]
    records += [Record(f"a::{i}", (i,), L.PASS) for i in PRE[1:]]
    dec = decide(records, CAT, [], ["preflight"], POLICY, now=NOW)
    assert dec.items["PRE-1"] is L.WARN
    dec = decide([*records, Record("a::t3", ("PRE-1",), L.INCONCLUSIVE)], CAT, [], ["preflight"], POLICY, now=NOW)
    assert dec.items["PRE-1"] is L.INCONCLUSIVE and dec.decision is Outcome.STOP


def test_a_collected_test_that_never_reported_is_inconclusive():
    dec = _decide(_all(PRE, PRE_4=None))
    assert dec.items["PRE-4"] is L.INCONCLUSIVE and dec.decision is Outcome.STOP
    assert "not run" in dec.reasons["PRE-4"][0]


def test_an_item_of_the_phase_not_run_makes_it_partial_and_exit_12():
    dec = _decide(_all(PRE[:-1]))
    assert dec.decision is Outcome.PARTIAL and dec.partial and dec.exit_code() == 12
    assert dec.phases["preflight"].missing_items == [PRE[-1]]
    assert "never decides PROCEED" in dec.phases["preflight"].notes[0]


def test_narrowing_options_and_thinned_items_are_partial():
    assert _decide(_all(PRE), narrowed_by=("-k auth",)).decision is Outcome.PARTIAL
    assert _decide(_all(PRE), tests_per_item={"PRE-1": 11}).decision is Outcome.PARTIAL
    assert _decide(_all(PRE), tests_per_item={"PRE-1": 1}).decision is Outcome.PROCEED


def test_a_failure_in_a_partial_run_still_stops():
    assert _decide(_all(PRE[:-1], PRE_1=L.FAIL)).decision is Outcome.STOP


def test_an_item_of_another_phase_is_observed_not_decided():
    dec = decide(
        [*_records(_all(PRE)), Record("a::both", ("PRE-1", "CAN-1"), L.FAIL)],
        CAT,
        [],
        ["preflight"],
        POLICY,
        now=NOW,
    )
    assert dec.observed_elsewhere == {"CAN-1": L.FAIL} and "CAN-1" not in dec.items
    assert dec.decision is Outcome.STOP  # PRE-1 got the same test's FAIL


def test_without_selected_phases_every_phase_is_decided_and_the_worst_wins():
    dec = _decide({**_all(PRE, PRE_1=L.FAIL), **_all(CAN, CAN_1=L.FAIL)}, phases=())
    assert set(dec.phases) == {"preflight", "canary_gate"} and dec.decision is Outcome.STOP
    assert dec.phase == "preflight+canary_gate"
    dec = _decide({**_all(PRE), **_all(CAN, CAN_1=L.FAIL)}, phases=())
    assert dec.decision is Outcome.ROLLBACK


def test_nothing_judged_is_stop():
    dec = decide([], CAT, [], [], POLICY, now=NOW)
    assert dec.decision is Outcome.STOP and dec.phase == "none" and dec.exit_code() == 10


def test_a_lost_run_blocks():
    dec = _decide(_all(PRE), incomplete="the xdist workers ended without reporting")
    assert dec.decision is Outcome.STOP and "xdist" in dec.as_dict()["incomplete"]
    dec = _decide(_all(CAN), phases=["canary_gate"], incomplete="lost")
    assert dec.decision is Outcome.ROLLBACK


def test_an_item_not_automated_fails_whatever_its_test_said():
    catalog = Catalog([*CAT, _item("PRE-9", "preflight", automated=False)])
    dec = _decide({**_all(PRE), "PRE-9": L.PASS}, catalog=catalog)
    assert dec.items["PRE-9"] is L.FAIL and dec.decision is Outcome.STOP
    assert "not automated yet" in dec.reasons["PRE-9"][0]
    dec = _decide(_all(PRE), catalog=catalog)  # no test at all: still a FAIL, not a silent gap
    assert dec.items["PRE-9"] is L.FAIL and dec.decision is Outcome.STOP


# --------------------------------------------------------------------------------------------
# Severity
# --------------------------------------------------------------------------------------------
def test_severity_turns_a_warn_only_items_fail_into_warn_only():
    assert d.apply_severity(failed("x"), {"warn"}).label is L.WARN
    assert d.apply_severity(failed("x"), {"warn", "block"}).label is L.FAIL
    assert d.apply_severity(failed("x"), set()).label is L.FAIL
    for verdict in (passed("x"), warned("x"), inconclusive("x")):
        assert d.apply_severity(verdict, {"warn"}) == verdict  # no data is never softened


# --------------------------------------------------------------------------------------------
# Waivers
# --------------------------------------------------------------------------------------------
def test_a_valid_waiver_turns_a_blocking_verdict_into_waived_never_pass():
    dec = _decide(_all(PRE, PRE_1=L.FAIL), waivers=[_waiver("PRE-1")])
    assert dec.items["PRE-1"] is L.WAIVED and dec.decision is Outcome.PROCEED
    assert dec.phases["preflight"].waived == ["PRE-1"] and dec.phases["preflight"].waived_share_pct == 20.0
    assert dec.waived_tests == {"checks/test_x.py::test_PRE-1": _waiver("PRE-1").as_dict()}
    assert dec.reasons["PRE-1"][0].startswith("test_PRE-1: waived by jane.doe until")


def test_a_waiver_by_test_id_covers_that_test_only():
    records = [Record("a::t1", ("PRE-1",), L.FAIL), Record("a::t2", ("PRE-1",), L.FAIL)]
    records += [Record(f"a::{i}", (i,), L.PASS) for i in PRE[1:]]
    dec = decide(records, CAT, [_waiver("a::t1")], ["preflight"], POLICY, now=NOW)
    assert dec.items["PRE-1"] is L.FAIL and list(dec.waived_tests) == ["a::t1"]


def test_a_waiver_never_touches_a_pass_or_warn():
    dec = _decide(_all(PRE, PRE_2=L.WARN), waivers=[_waiver("PRE-1"), _waiver("PRE-2")])
    assert dec.items["PRE-1"] is L.PASS and dec.items["PRE-2"] is L.WARN and not dec.waived_tests


@pytest.mark.parametrize(
    ("waiver", "why"),
    [
        (_waiver("PRE-1", days=-1), "expired"),
        (_waiver("PRE-1", approver="mallory"), "may not approve"),
        (_waiver("PRE-1", days=30), "days ahead"),
    ],
)
def test_a_waiver_the_policy_does_not_allow_now_is_not_applied(waiver, why):
    assert why in str(d.waiver_problem(waiver, POLICY, NOW))
    dec = _decide(_all(PRE, PRE_1=L.FAIL), waivers=[waiver])
    assert dec.items["PRE-1"] is L.FAIL and dec.decision is Outcome.STOP and not dec.waived_tests


def test_nobody_may_approve_when_the_policy_names_no_approver():
    dec = _decide(_all(PRE, PRE_1=L.FAIL), waivers=[_waiver("PRE-1")], policy=Policy(approvers=[]))
    assert dec.decision is Outcome.STOP


def test_waiving_more_than_the_cap_blocks_the_phase():
    labels = _all(PRE, PRE_1=L.FAIL, PRE_2=L.INCONCLUSIVE)
    dec = _decide(labels, waivers=[_waiver("PRE-1"), _waiver("PRE-2")])  # 40% > 20%
    assert dec.decision is Outcome.STOP and "above the cap of 20%" in dec.phases["preflight"].notes[0]
    dec = _decide(labels, waivers=[_waiver("PRE-1"), _waiver("PRE-2")], policy=Policy(max_waived_share_pct=40))
    assert dec.decision is Outcome.PROCEED


# --------------------------------------------------------------------------------------------
# Exit codes
# --------------------------------------------------------------------------------------------
def test_exit_codes_are_stable():
    assert (d.EXIT_PROCEED, d.EXIT_STOP, d.EXIT_ROLLBACK, d.EXIT_PARTIAL, d.EXIT_BAD_INPUT) == (0, 10, 11, 12, 2)
    assert {o: o.exit_code for o in Outcome} == {"PROCEED": 0, "STOP": 10, "ROLLBACK": 11, "PARTIAL": 12}
    assert sorted(Outcome, key=d.severity) == ["PROCEED", "PARTIAL", "ROLLBACK", "STOP"]
    proceed = _decide(_all(PRE))
    assert proceed.exit_code(failed_outside=True) == 1  # pytest's own meaning for a host test failing
    stop = _decide(_all(PRE, PRE_1=L.FAIL))
    assert stop.exit_code(failed_outside=True) == 10 and stop.exit_code(report_only=True) == 0


def test_the_module_is_pure():
    tree = ast.parse(Path(d.__file__).read_text(encoding="utf-8"))
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not imported & {"pytest", "_pytest", "httpx", "subprocess", "os", "socket", "pathlib"}


# --------------------------------------------------------------------------------------------
# Randomised properties (seeded: a failure names its seed)
# --------------------------------------------------------------------------------------------
LABELS = [L.PASS, L.WARN, L.FAIL, L.INCONCLUSIVE, None]
BIG = Catalog([_item(f"{p}-{n}", p) for p in PHASES for n in range(1, 5)])  # every phase, 4 items


def _random_run(rng: random.Random):
    phases = rng.sample(PHASES, rng.randint(1, 3))
    bad, gaps = rng.choice([0.0, 0.01, 0.05, 0.3]), rng.choice([0.0, 0.0, 0.05])  # healthy runs are common
    records = []
    for item in BIG:
        if item.phase not in phases or rng.random() < gaps:
            continue  # sometimes an item is not run: the run is then partial
        for n in range(rng.randint(1, 3)):
            items = (item.id,) if rng.random() < 0.9 else (item.id, rng.choice(BIG.ids))
            label = rng.choice(LABELS[2:]) if rng.random() < bad else rng.choice(LABELS[:2])
            records.append(Record(f"t::{item.id}-{n}", items, label, "r"))
    if not records:  # every item skipped: still one test, so that every property has something to judge
        first = BIG.in_phase(phases[0])[0].id
        records.append(Record(f"t::{first}-0", (first,), rng.choice(LABELS), "r"))
    failing = sorted({r.items[0] for r in records if r.label not in (L.PASS, L.WARN)})
    pool = failing if failing and rng.random() < 0.7 else BIG.ids  # mostly waive what fails
    targets = rng.sample(pool, min(len(pool), rng.randint(0, 8)))
    waivers = [_waiver(i, days=rng.choice([3, 3, -1, 30])) for i in targets]
    scope = Scope(
        phases=tuple(phases) if rng.random() < 0.8 else (),
        narrowed_by=("-k x",) if rng.random() < 0.2 else (),
    )
    policy = Policy(max_waived_share_pct=rng.choice([0, 20, 50, 100]))
    return records, waivers, scope, policy


def _run(records, waivers, scope, policy):
    return decide(records, BIG, waivers, scope, policy, now=NOW)


def _seeded(offset: int, seed: int):
    rng = random.Random(offset + seed)
    return rng, *_random_run(rng)


SEEDS = range(300)


@pytest.mark.parametrize("seed", SEEDS)
def test_properties_of_random_runs(seed):
    _, records, waivers, scope, policy = _seeded(0, seed)
    dec = _run(records, waivers, scope, policy)
    # the overall decision is the worst phase's; the exit code follows it
    assert dec.decision == d.worst_outcome(p.decision for p in dec.phases.values())
    assert dec.exit_code() == dec.decision.exit_code
    for phase, info in dec.phases.items():
        labels = [dec.items[i] for i in dec.items if BIG[i].phase == phase]
        # an unwaived FAIL or INCONCLUSIVE always blocks
        if any(label.blocks for label in labels):
            assert info.decision is d.blocking_outcome([phase]), (seed, phase)
        # a partial phase never proceeds
        if info.partial:
            assert info.decision is not Outcome.PROCEED, (seed, phase)
        # waivers never lift a phase beyond the cap
        if info.waived_share_pct > policy.max_waived_share_pct:
            assert info.decision in (Outcome.STOP, Outcome.ROLLBACK), (seed, phase)
        assert phase in STOP_PHASES or info.decision is not Outcome.STOP
    if scope.narrowed_by:
        assert dec.decision is not Outcome.PROCEED
    # WAIVED only ever replaces a blocking verdict, under a waiver valid now
    valid = {w.target for w in waivers if d.waiver_problem(w, policy, NOW) is None}
    for nodeid, waiver in dec.waived_tests.items():
        rec = next(r for r in records if r.nodeid == nodeid)
        assert rec.label in (L.FAIL, L.INCONCLUSIVE, None) and waiver["target"] in valid


@pytest.mark.parametrize("seed", SEEDS)
def test_worst_of_is_monotone(seed):
    """Making one test's verdict worse never makes any item, phase or the run better."""
    rng, records, waivers, scope, policy = _seeded(10_000, seed)
    before = _run(records, waivers, scope, policy)
    k = rng.randrange(len(records))
    ranked = [L.PASS, L.WARN, L.INCONCLUSIVE, L.FAIL]
    old = records[k].label or L.INCONCLUSIVE
    worse = rng.choice([label for label in ranked if label.rank >= old.rank])
    records[k] = replace(records[k], label=worse)
    after = _run(records, waivers, scope, policy)
    assert d.severity(after.decision) >= d.severity(before.decision), seed
    for item_id, label in before.items.items():
        if label is not L.WAIVED and after.items[item_id] is not L.WAIVED:
            assert after.items[item_id].rank >= label.rank, (seed, item_id)
    for phase, info in before.phases.items():
        assert d.severity(after.phases[phase].decision) >= d.severity(info.decision), (seed, phase)


@pytest.mark.parametrize("seed", SEEDS)
def test_removing_a_waiver_never_makes_the_decision_better(seed):
    _, records, waivers, scope, policy = _seeded(20_000, seed)
    waivers = waivers or [_waiver(records[0].items[0])]
    with_all = _run(records, waivers, scope, policy)
    fewer = _run(records, waivers[1:], scope, policy)
    # fewer waivers: items can only get worse, unless the cap was what blocked (then fewer waived helps)
    for item_id, label in fewer.items.items():
        assert label is not L.WAIVED or with_all.items[item_id] is L.WAIVED, (seed, item_id)
    if all(info.waived_share_pct <= policy.max_waived_share_pct for info in with_all.phases.values()):
        assert d.severity(fewer.decision) >= d.severity(with_all.decision), seed


@pytest.mark.parametrize("seed", SEEDS)
def test_an_unwaived_inconclusive_fails_the_run(seed):
    rng, records, _, scope, policy = _seeded(30_000, seed)
    inside = [r for r in records if not scope.phases or BIG[r.items[0]].phase in scope.phases]
    if not inside:
        return
    target = rng.choice(inside)
    records = [replace(r, label=L.INCONCLUSIVE) if r is target else r for r in records]
    dec = _run(records, [], scope, policy)
    assert dec.items[target.items[0]] in (L.INCONCLUSIVE, L.FAIL)  # FAIL if another of its tests failed
    assert dec.decision in (Outcome.STOP, Outcome.ROLLBACK) and dec.exit_code() in (10, 11), seed


def test_the_real_catalog_decides_a_whole_passing_phase_as_proceed():
    catalog = load_catalog()
    for phase in PHASES:
        records = [Record(f"t::{i.id}", (i.id,), L.PASS) for i in catalog.in_phase(phase)]
        assert decide(records, catalog, [], [phase], POLICY, now=NOW).decision is Outcome.PROCEED
