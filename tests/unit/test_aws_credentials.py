"""The AWS credential chain (nova_gate.aws) against moto with IAM enforcement, in process.

Every way CI gets AWS credentials ends in a request botocore signs and moto checks against the
caller's IAM policy: static keys, keys with a session token (STS), environment variables, a profile
in a shared credentials file, and a web-identity token file exchanged for a role (IRSA, OIDC).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

moto = pytest.importorskip("moto")

from nova_gate import aws  # noqa: E402
from nova_gate.sandbox import moto_server  # noqa: E402
from nova_gate.testing import isolate_aws  # noqa: E402

READ = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:HeadBucket", "s3:GetBucketPolicy", "s3:GetBucketPublicAccessBlock"],
            "Resource": "arn:aws:s3:::nova-media",
        },
        {"Effect": "Allow", "Action": ["sts:GetCallerIdentity"], "Resource": "*"},
    ],
}
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/token.actions.example"},
            "Action": "sts:AssumeRoleWithWebIdentity",
        }
    ],
}
SEED = 7  # the unchecked requests below


@pytest.fixture
def estate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, Any]]:
    isolate_aws(monkeypatch, tmp_path, SEED)
    moto_server.patch()  # unsigned AssumeRoleWithWebIdentity, as AWS
    with moto.mock_aws():
        seed = aws.AwsSettings(access_key_id="seed", secret_access_key="seed")
        iam = aws.client("iam", seed)
        iam.create_user(UserName="gate")  # 1
        iam.put_user_policy(UserName="gate", PolicyName="read", PolicyDocument=json.dumps(READ))  # 2
        key = iam.create_access_key(UserName="gate")["AccessKey"]  # 3
        iam.create_role(RoleName="ci", AssumeRolePolicyDocument=json.dumps(TRUST))  # 4
        iam.put_role_policy(RoleName="ci", PolicyName="read", PolicyDocument=json.dumps(READ))  # 5
        aws.client("s3", seed).create_bucket(Bucket="nova-media")  # 6
        aws.client("s3", seed).put_bucket_policy(Bucket="nova-media", Policy=json.dumps({"Statement": []}))  # 7
        yield {"key": key["AccessKeyId"], "secret": key["SecretAccessKey"], "tmp": tmp_path}


def reads(settings: aws.AwsSettings) -> bool:
    s3 = aws.client("s3", settings)
    s3.head_bucket(Bucket="nova-media")
    s3.get_bucket_policy(Bucket="nova-media")
    return True


def cannot_write(settings: aws.AwsSettings) -> bool:
    import botocore.exceptions

    try:
        aws.client("s3", settings).put_object(Bucket="nova-media", Key="x", Body=b"x")
    except botocore.exceptions.ClientError as exc:
        return aws.is_unauthorised(exc)
    return False


def test_static_keys(estate: dict[str, Any]) -> None:
    settings = aws.AwsSettings(access_key_id=estate["key"], secret_access_key=estate["secret"])
    assert reads(settings) and cannot_write(settings)


def test_environment_variables(estate: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", estate["key"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", estate["secret"])
    assert reads(aws.AwsSettings()) and cannot_write(aws.AwsSettings())


def test_profile_in_a_credentials_file(estate: dict[str, Any]) -> None:
    creds = estate["tmp"] / "credentials"
    creds.write_text(f"[nova-gate]\naws_access_key_id = {estate['key']}\naws_secret_access_key = {estate['secret']}\n")
    settings = aws.AwsSettings(profile="nova-gate", credentials_file=creds)
    assert reads(settings) and cannot_write(settings)


def test_session_token_from_sts(estate: dict[str, Any]) -> None:
    # temporary keys + session token, as a CI step that assumed the role hands them on (AWS_SESSION_TOKEN)
    sts = aws.client("sts", aws.AwsSettings(access_key_id="x", secret_access_key="x"))
    temporary = sts.assume_role_with_web_identity(
        RoleArn="arn:aws:iam::123456789012:role/ci", RoleSessionName="nova-gate", WebIdentityToken="a.b.c"
    )["Credentials"]
    settings = aws.AwsSettings(
        access_key_id=temporary["AccessKeyId"],
        secret_access_key=temporary["SecretAccessKey"],
        session_token=temporary["SessionToken"],
    )
    assert (
        settings.session_token
        and "Session" not in repr(settings)
        and temporary["SecretAccessKey"] not in repr(settings)
    )
    assert reads(settings) and cannot_write(settings)
    forged = aws.AwsSettings(
        access_key_id=temporary["AccessKeyId"], secret_access_key=temporary["SecretAccessKey"], session_token="forged"
    )
    assert cannot_write(forged)


def test_web_identity_token_file(estate: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    token = estate["tmp"] / "token"
    token.write_text("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOm5vdmEifQ.c2ln")
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token))
    monkeypatch.setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/ci")
    monkeypatch.setenv("AWS_ROLE_SESSION_NAME", "nova-gate")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):  # mock_aws' own fakes
        monkeypatch.setenv(name, "")  # empty counts as unset for botocore (moto restores them itself)
    settings = aws.AwsSettings()
    credentials = aws.session(settings).get_credentials()
    assert credentials.method == "assume-role-with-web-identity" and credentials.token
    assert reads(settings) and cannot_write(settings)


def test_wrong_secret_and_unknown_key_are_unauthorised(estate: dict[str, Any]) -> None:
    import botocore.exceptions

    for settings in (
        aws.AwsSettings(access_key_id=estate["key"], secret_access_key="wrong-secret"),
        aws.AwsSettings(access_key_id="AKIAUNKNOWN000000000", secret_access_key="x"),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            reads(settings)
        assert aws.is_unauthorised(caught.value), caught.value
