"""Human checklist items: a named person signed, for this release, recently enough."""

from __future__ import annotations

import datetime as dt

from nova_gate.policy import Attestation
from nova_gate.verdict import Verdict, failed, passed


def attested(
    attestations: list[Attestation],
    item_id: str,
    version: str,
    max_age: dt.timedelta,
    now: dt.datetime,
) -> Verdict:
    """PASS when the newest attestation of ``item_id`` for ``version`` is younger than ``max_age``."""
    mine = [a for a in attestations if a.item == item_id and a.version in (None, version)]
    expected = f"an attestation of {item_id} for {version} younger than {max_age}"
    if not mine:
        return failed(f"no attestation of {item_id} for {version}", observed=None, expected=expected)
    newest = max(mine, key=lambda a: a.at)
    age = now - newest.at
    observed = newest.as_dict() | {"age_h": round(age.total_seconds() / 3600, 2)}
    if newest.at > now + dt.timedelta(minutes=5):
        return failed(
            f"attestation of {item_id} is dated in the future ({newest.at.isoformat()})",
            observed=observed,
            expected=expected,
        )
    if age > max_age:
        return failed(
            f"attestation of {item_id} by {newest.by} is {age.total_seconds() / 3600:.1f} h old "
            f"(limit {max_age.total_seconds() / 3600:.0f} h)",
            observed=observed,
            expected=expected,
        )
    return passed(f"attested by {newest.by}: {newest.note}", observed=observed, expected=expected)
