"""Verdicts are data: a closed-set label, a one-line reason, what was observed and expected."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any


class Label(enum.StrEnum):
    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    INCONCLUSIVE = "INCONCLUSIVE"
    # Only the report uses WAIVED: a FAIL/INCONCLUSIVE that a valid waiver covers. Never a pass.
    WAIVED = "WAIVED"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def symbol(self) -> str:
        return _SYMBOL[self]

    @property
    def blocks(self) -> bool:
        """A blocking label stops or rolls back the release (unless waived)."""
        return self in (Label.FAIL, Label.INCONCLUSIVE)


_RANK = {Label.PASS: 0, Label.WAIVED: 1, Label.WARN: 2, Label.INCONCLUSIVE: 3, Label.FAIL: 4}
_SYMBOL = {
    Label.PASS: "✅",
    Label.WARN: "⚠️",
    Label.WAIVED: "⚠️",
    Label.FAIL: "❌",
    Label.INCONCLUSIVE: "❌",
}


@dataclass(frozen=True)
class Verdict:
    """The outcome of one rule: label, one-line reason, observed vs expected, details."""

    label: Label
    reason: str
    observed: Any = None
    expected: Any = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if "\n" in self.reason:
            object.__setattr__(self, "reason", " ".join(self.reason.split()))

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": str(self.label),
            "reason": self.reason,
            "observed": self.observed,
            "expected": self.expected,
            "details": dict(self.details),
        }

    def with_severity(self, severity: str) -> Verdict:
        """Downgrade FAIL to WARN for items whose checklist action is INVESTIGATE/MONITOR."""
        if severity == "warn" and self.label is Label.FAIL:
            return replace(self, label=Label.WARN)
        return self


def passed(reason: str, observed: Any = None, expected: Any = None, **details: Any) -> Verdict:
    return Verdict(Label.PASS, reason, observed, expected, details)


def warned(reason: str, observed: Any = None, expected: Any = None, **details: Any) -> Verdict:
    return Verdict(Label.WARN, reason, observed, expected, details)


def failed(reason: str, observed: Any = None, expected: Any = None, **details: Any) -> Verdict:
    return Verdict(Label.FAIL, reason, observed, expected, details)


def inconclusive(reason: str, observed: Any = None, expected: Any = None, **details: Any) -> Verdict:
    return Verdict(Label.INCONCLUSIVE, reason, observed, expected, details)


def worst(labels: Iterable[Label]) -> Label:
    """The most severe label; no labels at all is INCONCLUSIVE, never a pass."""
    found = list(labels)
    if not found:
        return Label.INCONCLUSIVE
    return max(found, key=lambda label: label.rank)


def combine(verdicts: Iterable[Verdict], what: str = "checks") -> Verdict:
    """Fold several verdicts (e.g. one per service) into one, naming every non-passing part."""
    found = list(verdicts)
    if not found:
        return inconclusive(f"no {what} were evaluated")
    label = worst(v.label for v in found)
    bad = [v.reason for v in found if v.label is not Label.PASS]
    reason = "; ".join(bad) if bad else f"all {len(found)} {what} pass"
    return Verdict(label, reason, details={"parts": [v.as_dict() for v in found]})


def label_counts(labels: Iterable[Label]) -> dict[str, int]:
    counts = {str(label): 0 for label in Label}
    for label in labels:
        counts[str(label)] += 1
    return counts
