"""AWS Secrets Manager (PRE-CFG-2) on moto in-process with its IAM enforcement on: the sandbox's own
identities (``nova_gate.sandbox.s3.policies``), its seeding and faults, the source and the rule.

The gates' identity reads the metadata the check needs and nothing else: GetSecretValue, writes and
deletes are AccessDenied by moto's policy evaluation. Each sandbox fault makes the check FAIL naming
the secret; its undo makes it PASS again.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.exceptions
import moto
import pytest
from pydantic import SecretStr

from nova_gate import aws
from nova_gate.backends.base import SourceError
from nova_gate.backends.secretsmanager.config import SecretsManager
from nova_gate.backends.secretsmanager.source import SecretsManagerSource, facts_of
from nova_gate.rules.secrets import secrets_current
from nova_gate.sandbox import secretsmanager as sandbox_sm
from nova_gate.sandbox.s3 import ADMIN, GATES, SMOKE, policies
from nova_gate.testing import isolate_aws
from nova_gate.verdict import Label

WINDOW = dt.timedelta(days=30)


@pytest.fixture
def estate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, Any]]:
    isolate_aws(monkeypatch, tmp_path, 9)  # the identities go unchecked (3 requests each), all after is checked
    with moto.mock_aws():
        iam = aws.client("iam", aws.AwsSettings(access_key_id="seed", secret_access_key="seed"))
        keys = {}
        for user in (GATES, ADMIN, SMOKE):
            iam.create_user(UserName=user)
            iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps(policies()[user]))
            key = iam.create_access_key(UserName=user)["AccessKey"]
            keys[user] = aws.AwsSettings(access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"])
        admin = aws.client("secretsmanager", keys[ADMIN])
        sandbox_sm.seed(admin)
        yield {"keys": keys, "admin": admin}


def gates_source(estate: dict[str, Any]) -> SecretsManagerSource:
    k = estate["keys"][GATES]
    cfg = SecretsManager(access_key_id=k.access_key_id, secret_access_key=k.secret_access_key)
    return SecretsManagerSource(cfg)


def judge(estate: dict[str, Any]) -> Any:
    found = gates_source(estate).secrets(list(sandbox_sm.SECRETS))
    return secrets_current(found, WINDOW, dt.datetime.now(dt.UTC))


def test_seeded_secrets_pass_with_rotation_on_schedule(estate: dict[str, Any]) -> None:
    verdict = judge(estate)
    assert verdict.label is Label.PASS, verdict.reason
    rotated = verdict.observed[sandbox_sm.ROTATED]
    assert rotated["rotation_due"] is not None


def test_gates_identity_reads_metadata_only(estate: dict[str, Any]) -> None:
    sm = aws.client("secretsmanager", estate["keys"][GATES])
    sm.describe_secret(SecretId=sandbox_sm.SECRETS[0])
    refused = {
        "GetSecretValue": lambda: sm.get_secret_value(SecretId=sandbox_sm.SECRETS[0]),
        "PutSecretValue": lambda: sm.put_secret_value(SecretId=sandbox_sm.SECRETS[0], SecretString="x"),
        "CreateSecret": lambda: sm.create_secret(Name="nova/prod/new", SecretString="x"),
        "DeleteSecret": lambda: sm.delete_secret(SecretId=sandbox_sm.SECRETS[0]),
        "ListSecrets": lambda: sm.list_secrets(),
    }
    for action, call in refused.items():
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            call()
        assert aws.is_unauthorised(caught.value) and aws.status_code(caught.value) == 403, action


@pytest.mark.parametrize("fault", [f.name for f in sandbox_sm.faults(lambda: None, "s3")])
def test_each_sandbox_fault_fails_and_its_undo_passes(estate: dict[str, Any], fault: str) -> None:
    (chosen,) = [f for f in sandbox_sm.faults(lambda: estate["admin"], "s3") if f.name == fault]
    assert chosen.catches == ("PRE-CFG-2",)
    before = sandbox_sm.snapshot(estate["admin"])
    chosen.inject()
    verdict = judge(estate)
    assert verdict.label is Label.FAIL
    assert any(name in verdict.reason for name in sandbox_sm.SECRETS), verdict.reason
    chosen.undo()
    assert judge(estate).label is Label.PASS
    assert sandbox_sm.snapshot(estate["admin"]) == before


def test_a_refused_identity_is_one_unauthorised_line(estate: dict[str, Any]) -> None:
    cfg = SecretsManager(access_key_id="AKIAWRONGWRONGWRONG1", secret_access_key=SecretStr("not-the-secret"))
    with pytest.raises(SourceError) as caught:
        SecretsManagerSource(cfg).secrets(["nova/prod/database-url"])
    message = str(caught.value)
    assert "unauthorised" in message and "not-the-secret" not in message and "\n" not in message


def test_the_probe_tells_an_answer_from_no_answer(estate: dict[str, Any]) -> None:
    """The reachability probe asks for a name no secret has: an answer (here ResourceNotFound) leaves
    the backend up and the check unchanged; a refused identity marks it down before the first test."""
    source = gates_source(estate)
    source.probe()
    assert source.down() is None and source.calls == 2  # the client made, the probe
    found = source.secrets(list(sandbox_sm.SECRETS))
    assert secrets_current(found, WINDOW, dt.datetime.now(dt.UTC)).label is Label.PASS

    wrong = SecretsManagerSource(
        SecretsManager(access_key_id="AKIAWRONGWRONGWRONG1", secret_access_key=SecretStr("not-the-secret"))
    )
    with pytest.raises(SourceError):
        wrong.probe()
    assert wrong.down() is not None
    with pytest.raises(SourceError) as again:
        wrong.secrets(["nova/prod/database-url"])
    assert "not retried" in str(again.value) and wrong.calls == 2  # nothing asked after the probe


def test_a_probe_refused_one_privilege_does_not_mark_the_backend_down(estate: dict[str, Any]) -> None:
    """A policy scoped to Nova's secret ARNs answers the probe's name with AccessDenied (moto sees every
    request as resource ``*``, so the smoke identity, which has no Secrets Manager action, stands in):
    one privilege refused."""
    k = estate["keys"][SMOKE]
    source = SecretsManagerSource(SecretsManager(access_key_id=k.access_key_id, secret_access_key=k.secret_access_key))
    with pytest.raises(SourceError) as refused:
        source.probe()
    assert "unauthorised" in str(refused.value) and source.down() is None


def test_facts_from_hand_built_answers() -> None:
    t = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert not facts_of("x", None).exists
    f = facts_of(
        "x",
        {
            "LastChangedDate": t,
            "LastRotatedDate": t + dt.timedelta(days=1),
            "RotationEnabled": True,
            "RotationRules": {"AutomaticallyAfterDays": 30},
            "VersionIdsToStages": {"v1": ["AWSPREVIOUS"], "v2": ["AWSCURRENT"], "v3": ["AWSPENDING"]},
        },
    )
    assert f.updated == t + dt.timedelta(days=1)
    assert f.rotation_due == t + dt.timedelta(days=31)  # no NextRotationDate: last rotation + interval
    assert f.has_current and f.rotation_pending
    same = facts_of("x", {"LastChangedDate": t, "VersionIdsToStages": {"v": ["AWSCURRENT", "AWSPENDING"]}})
    assert not same.rotation_pending  # AWSPENDING on the current version: a finished rotation
    gone = facts_of("x", {"LastChangedDate": t, "DeletedDate": t, "VersionIdsToStages": {}})
    assert gone.deletion_date == t and not gone.has_current
