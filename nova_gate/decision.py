"""The decision: from the tests' verdicts to PROCEED / STOP / ROLLBACK / PARTIAL and the exit code.

Pure: no pytest, no files, no clock unless given. The plugin collects one :class:`Record` per
collected test and calls :func:`decide`; the record writers (``nova_gate.report``) only render the
:class:`Decision` it returns. The rules, in the order they apply:

1. **Severity.** A warn-only item's FAIL is a WARN (:func:`apply_severity`; the gate fixture calls it
   when a check judges, so the test report agrees with the decision).
2. **Waivers.** A blocking verdict (FAIL, INCONCLUSIVE) covered by a waiver that is valid *now* under
   the policy (not expired, approved by one of ``policy.approvers``, at most ``policy.waiver_max_days``
   ahead) is WAIVED. Nothing else is ever waived, and WAIVED is never a pass.
3. **Worst-of.** An item's verdict is the worst of its tests'; a collected test that never reported
   is INCONCLUSIVE; an item the catalog marks as not automated is a FAIL.
4. **Per phase.** A blocking item stops the phase: STOP before any change (``STOP_PHASES``), ROLLBACK
   from the migrations on. More than ``policy.max_waived_share_pct`` of a phase waived is blocking too.
   A run narrower than its phase (an item of the phase not run, fewer tests than collected, a
   narrowing option) is PARTIAL, never PROCEED.
5. **Overall.** The worst phase decision (STOP > ROLLBACK > PARTIAL > PROCEED); nothing judged is STOP.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from nova_gate.catalog import PHASES, STOP_PHASES, Catalog
from nova_gate.verdict import Label, Verdict, label_counts, worst

#: Exit codes of a gate run (``pytest -m PHASE`` and ``nova-gate run PHASE``). pytest's own codes keep
#: their meaning: 1 tests failed outside the decision, 2 interrupted / bad input, 3 internal error,
#: 4 usage error, 5 no tests collected.
EXIT_PROCEED = 0
EXIT_OUTSIDE_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_STOP = 10
EXIT_ROLLBACK = 11
EXIT_PARTIAL = 12
EXIT_CODES = {
    EXIT_PROCEED: "PROCEED (or --report-only)",
    EXIT_OUTSIDE_FAILED: "tests without a checklist item failed (pytest's meaning); the decision was PROCEED",
    EXIT_BAD_INPUT: "bad input (environment, waivers, an option such as an unknown --item) or collection interrupted",
    3: "pytest internal error",
    4: "pytest usage error (unknown option)",
    5: "no tests collected (pytest's meaning; the record says STOP: nothing judged)",
    EXIT_STOP: "STOP: a blocking verdict before any change (preflight, predeploy)",
    EXIT_ROLLBACK: "ROLLBACK: a blocking verdict from the migrations on",
    EXIT_PARTIAL: "PARTIAL: a narrowed selection (--item, -k, node ids) passed, but decides nothing for the phase",
}

NOT_RUN = "not run (interrupted or deselected by an error)"
NOT_AUTOMATED = "not automated yet"


class Outcome(enum.StrEnum):
    """A phase's or a run's decision, in rising severity (see :func:`severity`)."""

    PROCEED = "PROCEED"
    PARTIAL = "PARTIAL"
    ROLLBACK = "ROLLBACK"
    STOP = "STOP"

    @property
    def exit_code(self) -> int:
        """0 PROCEED, 12 PARTIAL, 11 ROLLBACK, 10 STOP."""
        return {"PROCEED": EXIT_PROCEED, "PARTIAL": EXIT_PARTIAL, "ROLLBACK": EXIT_ROLLBACK}.get(self.value, EXIT_STOP)


def severity(outcome: Outcome) -> int:
    """PROCEED 0 < PARTIAL 1 < ROLLBACK 2 < STOP 3."""
    return list(Outcome).index(outcome)


def worst_outcome(outcomes: Iterable[Outcome]) -> Outcome:
    """The most severe phase decision; no phase at all is STOP (nothing judged is never a pass)."""
    return max(outcomes, key=severity, default=Outcome.STOP)


def blocking_outcome(phases: Collection[str]) -> Outcome:
    """What a blocking verdict means for these phases: STOP before any change, else ROLLBACK."""
    return Outcome.STOP if not phases or set(phases) & STOP_PHASES else Outcome.ROLLBACK


class WaiverPolicy(Protocol):
    """The environment's ``policy:`` section (``nova_gate.config.Policy``)."""

    @property
    def approvers(self) -> Sequence[str]: ...
    @property
    def waiver_max_days(self) -> float: ...
    @property
    def max_waived_share_pct(self) -> float: ...


class Waiver(Protocol):
    """A reviewed, expiring exception (``nova_gate.policy.Waiver``)."""

    @property
    def target(self) -> str: ...
    @property
    def approver(self) -> str: ...
    @property
    def expires(self) -> dt.datetime: ...
    @property
    def justification(self) -> str: ...
    def covers(self, item_ids: list[str], nodeid: str) -> bool: ...
    def as_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Record:
    """One collected test as the decision sees it; ``label`` None: collected, never reported."""

    nodeid: str
    items: tuple[str, ...]
    label: Label | None
    reason: str = ""


@dataclass(frozen=True)
class Scope:
    """What the run set out to judge.

    ``phases``: the phases named in ``-m`` (empty: every phase a record belongs to); an item of another
    phase that a test also carries is observed, not decided. ``tests_per_item``: tests per item before
    any deselection (fewer run means partial). ``narrowed_by``: options that selected part of a phase.
    ``incomplete``: why the run cannot be judged at all (every xdist worker lost), which blocks.
    """

    phases: tuple[str, ...] = ()
    tests_per_item: Mapping[str, int] = field(default_factory=dict)
    narrowed_by: tuple[str, ...] = ()
    incomplete: str | None = None


@dataclass(frozen=True)
class PhaseDecision:
    decision: Outcome
    counts: dict[str, int]
    blocking: list[str]
    partial: bool
    missing_items: list[str]
    waived: list[str]
    waived_share_pct: float
    notes: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "decision": str(self.decision),
            "counts": dict(self.counts),
            "blocking": list(self.blocking),
            "partial": self.partial,
            "missing_items": list(self.missing_items),
            "waived": list(self.waived),
            "waived_share_pct": self.waived_share_pct,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Decision:
    """The outcome of a run: overall and per phase, per item, with the reasons and waivers applied."""

    decision: Outcome
    phases: dict[str, PhaseDecision]
    items: dict[str, Label]
    reasons: dict[str, list[str]]
    observed_elsewhere: dict[str, Label]
    #: node id -> the waiver that turned its blocking verdict into WAIVED
    waived_tests: dict[str, dict[str, Any]]
    incomplete: str | None = None

    @property
    def partial(self) -> bool:
        return any(p.partial for p in self.phases.values())

    @property
    def phase(self) -> str:
        return "+".join(self.phases) or "none"

    def exit_code(self, *, failed_outside: bool = False, report_only: bool = False) -> int:
        """0 PROCEED (1 if a test without an item failed), 10 STOP, 11 ROLLBACK, 12 PARTIAL."""
        if report_only:
            return EXIT_PROCEED
        if self.decision is Outcome.PROCEED and failed_outside:
            return EXIT_OUTSIDE_FAILED
        return self.decision.exit_code

    def as_dict(self) -> dict[str, Any]:
        """The decision's part of ``decision.json`` (the writer adds the run's context)."""
        out: dict[str, Any] = {
            "partial": self.partial,
            "phase": self.phase,
            "decision": str(self.decision),
            "counts": label_counts(self.items.values()),
            "items": {k: str(v) for k, v in self.items.items()},
            "reasons": {k: list(v) for k, v in self.reasons.items()},
            "phases": {k: p.as_dict() for k, p in self.phases.items()},
            "observed_outside_the_selected_phases": {k: str(v) for k, v in self.observed_elsewhere.items()},
        }
        if self.incomplete:
            out["incomplete"] = self.incomplete
        return out


# --------------------------------------------------------------------------------------------
# Severity and waivers
# --------------------------------------------------------------------------------------------
def apply_severity(verdict: Verdict, severities: Collection[str]) -> Verdict:
    """A check of warn-only items: its FAIL is a WARN. Any blocking item keeps the FAIL."""
    if severities and set(severities) == {"warn"}:
        return verdict.with_severity("warn")
    return verdict


def waiver_problem(waiver: Waiver, policy: WaiverPolicy, now: dt.datetime) -> str | None:
    """Why this waiver may not be applied now (None: it may)."""
    if waiver.expires <= now:
        return f"expired on {waiver.expires.isoformat()}"
    if waiver.approver not in policy.approvers:
        return f"{waiver.approver!r} may not approve waivers"
    if waiver.expires - now > dt.timedelta(days=policy.waiver_max_days):
        return f"expires more than {policy.waiver_max_days:g} days ahead"
    return None


def waiver_for(
    waivers: Iterable[Waiver],
    items: Sequence[str],
    nodeid: str,
    label: Label,
    policy: WaiverPolicy,
    now: dt.datetime | None = None,
) -> Waiver | None:
    """The waiver that covers this test's blocking verdict, if one is valid now; never for a non-blocking one."""
    if not label.blocks:
        return None
    now = now or dt.datetime.now(dt.UTC)
    for waiver in waivers:
        if waiver.covers(list(items), nodeid) and waiver_problem(waiver, policy, now) is None:
            return waiver
    return None


# --------------------------------------------------------------------------------------------
# The decision
# --------------------------------------------------------------------------------------------
def decide(
    records: Iterable[Record],
    catalog: Catalog,
    waivers: Iterable[Waiver],
    phases: Scope | Sequence[str],
    policy: WaiverPolicy,
    *,
    now: dt.datetime | None = None,
) -> Decision:
    """Decide a run from its records (one per collected test); see the module docstring."""
    scope = phases if isinstance(phases, Scope) else Scope(phases=tuple(phases))
    now = now or dt.datetime.now(dt.UTC)
    waivers = list(waivers)
    records = list(records)
    per_item: dict[str, list[Label]] = {}
    reasons: dict[str, list[str]] = {}
    waived_tests: dict[str, dict[str, Any]] = {}
    run_tests: dict[str, int] = {}
    for record in records:
        label = record.label if record.label is not None else Label.INCONCLUSIVE
        reason = record.reason if record.label is not None else NOT_RUN
        waiver = waiver_for(waivers, record.items, record.nodeid, label, policy, now)
        if waiver is not None:
            label = Label.WAIVED
            reason = f"waived by {waiver.approver} until {waiver.expires.date()}: {reason}"
            waived_tests[record.nodeid] = waiver.as_dict()
        for item_id in record.items:
            run_tests[item_id] = run_tests.get(item_id, 0) + 1
            item = catalog.get(item_id)
            # an item without a real check never passes, whatever a test bound to it said
            label_i, reason_i = (
                (Label.FAIL, NOT_AUTOMATED) if item is not None and not item.automated else (label, reason)
            )
            per_item.setdefault(item_id, []).append(label_i)
            if label_i is not Label.PASS:
                reasons.setdefault(item_id, []).append(f"{record.nodeid.split('::')[-1]}: {reason_i}")
    verdicts = {item_id: worst(labels) for item_id, labels in per_item.items() if item_id in catalog}
    for phase in scope.phases:  # a selected phase's items nobody automated: FAIL, never a silent gap
        for item in catalog.in_phase(phase):
            if not item.automated and item.id not in verdicts:
                verdicts[item.id] = Label.FAIL
                reasons.setdefault(item.id, []).append(f"{item.id}: {NOT_AUTOMATED}")
    observed_elsewhere: dict[str, Label] = {}
    if scope.phases:
        observed_elsewhere = {i: v for i, v in verdicts.items() if catalog[i].phase not in scope.phases}
        verdicts = {i: v for i, v in verdicts.items() if i not in observed_elsewhere}
    decided = {
        phase: _phase(phase, verdicts, catalog, run_tests, scope, policy)
        for phase in PHASES
        if any(catalog[i].phase == phase for i in verdicts)
    }
    overall = worst_outcome(p.decision for p in decided.values())
    if scope.incomplete:
        overall = worst_outcome([overall, blocking_outcome(scope.phases)])
    return Decision(
        decision=overall,
        phases=decided,
        items=verdicts,
        reasons={k: v for k, v in reasons.items() if k in verdicts},
        observed_elsewhere=observed_elsewhere,
        waived_tests=waived_tests,
        incomplete=scope.incomplete,
    )


def _phase(
    phase: str,
    verdicts: Mapping[str, Label],
    catalog: Catalog,
    run_tests: Mapping[str, int],
    scope: Scope,
    policy: WaiverPolicy,
) -> PhaseDecision:
    ids = [i for i in verdicts if catalog[i].phase == phase]
    blocking = [i for i in ids if verdicts[i].blocks]
    fail = blocking_outcome([phase])
    all_ids = [i.id for i in catalog.in_phase(phase)]
    missing = [i for i in all_ids if i not in verdicts]
    thinned = [i for i in ids if run_tests.get(i, 0) < scope.tests_per_item.get(i, 0)]
    partial = bool(missing or thinned or scope.narrowed_by)
    waived = [i for i in ids if verdicts[i] is Label.WAIVED]
    share = round(100 * len(waived) / max(len(all_ids), 1), 1)
    cap = policy.max_waived_share_pct
    decision = fail if blocking else Outcome.PROCEED
    notes: list[str] = []
    if share > cap:
        decision = fail
        notes.append(f"{len(waived)} of {len(all_ids)} items waived ({share}%), above the cap of {cap:g}%")
    if partial and decision is Outcome.PROCEED:
        decision = Outcome.PARTIAL
    if partial:
        notes.append(
            f"partial run: {len(all_ids) - len(missing)} of {len(all_ids)} items judged"
            + (f", fewer tests than collected for {', '.join(thinned[:5])}" if thinned else "")
            + (f" (narrowed by {'; '.join(scope.narrowed_by)})" if scope.narrowed_by else "")
            + ": a partial run never decides PROCEED"
        )
    return PhaseDecision(
        decision=decision,
        counts=label_counts(verdicts[i] for i in ids),
        blocking=blocking,
        partial=partial,
        missing_items=missing,
        waived=waived,
        waived_share_pct=share,
        notes=notes,
    )
