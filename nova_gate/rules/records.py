"""PD-1: the preflight of this version passed, completely, recently, with intact evidence."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any

from nova_gate.verdict import Verdict, failed, passed


def preflight_passed(
    records: Sequence[Any],
    version: str,
    required_items: Collection[str],
    max_age: dt.timedelta,
    now: dt.datetime,
) -> Verdict:
    """PASS when the newest complete preflight record for ``version`` is PROCEED, fresh and intact."""
    expected = (
        f"a PROCEED preflight record of {version} covering all {len(required_items)} items, "
        f"younger than {max_age.total_seconds() / 3600:.0f} h, evidence hash intact"
    )
    mine = [r for r in records if r.version == version]
    complete = [r for r in mine if set(required_items) <= set(r.items)]
    if not complete:
        why = (
            f"{len(mine)} partial preflight run(s) of {version}, none covering every item"
            if mine
            else f"no preflight record for {version}"
        )
        return failed(why, observed=[r.path for r in records[:5]], expected=expected)
    # the newest by finish time, whatever order the records were listed in
    newest = max(complete, key=lambda r: r.finished)
    observed = {
        "record": newest.path,
        "decision": newest.decision,
        "finished": newest.finished.isoformat(),
        "evidence": newest.evidence_detail,
    }
    if not newest.evidence_ok:
        return failed(f"preflight evidence does not verify: {newest.evidence_detail}", observed, expected)
    if newest.decision != "PROCEED":
        return failed(f"the latest full preflight of {version} decided {newest.decision}", observed, expected)
    age = now - newest.finished
    if age > max_age:
        return failed(
            f"the passing preflight of {version} is {age.total_seconds() / 3600:.1f} h old",
            observed,
            expected,
        )
    return passed(f"preflight of {version} passed {age.total_seconds() / 3600:.1f} h ago", observed, expected)
