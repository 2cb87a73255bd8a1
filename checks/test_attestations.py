"""Checklist items only a person can vouch for: a fresh, signed attestation for this release."""

import datetime as dt

import pytest

from nova_gate.rules.attestation import attested

HUMAN_ITEMS = ["PRE-MON-5", "PRE-DOC-2", "PRE-DOC-4", "PD-6", "RBK-6", "P24-8", "P24-9"]


@pytest.mark.parametrize("item_id", [pytest.param(i, marks=pytest.mark.item(i), id=i) for i in HUMAN_ITEMS])
def test_attested(item_id, attestations, env, gate):
    max_age = dt.timedelta(hours=env.thresholds.attestation_max_age_h)
    gate.evidence(source="attestations", file=env.files.attestations, item=item_id)
    gate.judge(attested(attestations, item_id, env.release.version, max_age, dt.datetime.now(dt.UTC)))
