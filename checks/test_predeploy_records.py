"""PD-1: all pre-deployment checks completed — a passing, fresh, intact preflight audit record."""

import datetime as dt

import pytest

from nova_gate.rules.records import preflight_passed
from nova_gate.sources.audit_records import AuditRecords


@pytest.mark.item("PD-1")
def test_preflight_record(env, gate, pytestconfig):
    from nova_gate.catalog import load_catalog

    records = AuditRecords(env.files.preflight_records).records("preflight")
    required = [i.id for i in load_catalog().in_phase("preflight")]
    gate.evidence(source="files", directory=env.files.preflight_records, records=[r.path for r in records[:5]])
    gate.judge(
        preflight_passed(
            records,
            env.release.version,
            required,
            dt.timedelta(hours=env.thresholds.preflight_record_max_age_h),
            dt.datetime.now(dt.UTC),
        )
    )
