"""AWS Secrets Manager in the sandbox: Nova's secrets seeded into moto's server (the s3 component's,
port 58202: one AWS stand-in, its IAM enforcement on), the gates' read-only policy, and the faults.

The gates' identity (``nova-gate``, and the CI role) may ``secretsmanager:DescribeSecret`` and
nothing else: no ``GetSecretValue``, no writes (``tests/unit/test_secretsmanager.py`` proves both
against moto's IAM enforcement). The sandbox's admin seeds and breaks the secrets.

moto's limit: its IAM check sees every Secrets Manager request as resource ``*``, so a policy that
names secret ARNs (as production's should, README) would deny everything; the sandbox's names ``*``.
"""

from __future__ import annotations

import uuid
from typing import Any

from nova_gate.sandbox.base import Fault

#: the secrets Nova's services read (environments/sandbox.yaml: expectations.required_secrets)
SECRETS = (
    "nova/prod/database-url",
    "nova/prod/redis-url",
    "nova/prod/jwt-signing-key",
    "nova/prod/s3-credentials",
    "nova/prod/kafka-sasl",
)
#: the secret whose rotation the sandbox switches on (every 30 days, as Nova rotates its signing key)
ROTATED = "nova/prod/jwt-signing-key"
ROTATION_DAYS = 30

GATES_ACTIONS = ["secretsmanager:DescribeSecret"]


def gates_statement() -> dict[str, Any]:
    return {"Effect": "Allow", "Action": list(GATES_ACTIONS), "Resource": ["*"]}


def admin_statement() -> dict[str, Any]:
    return {"Effect": "Allow", "Action": ["secretsmanager:*"], "Resource": ["*"]}


def _value(name: str) -> str:
    return f"sandbox-{name.rsplit('/', 1)[-1]}-{uuid.uuid4().hex[:12]}"


def seed(sm: Any) -> None:
    """Create Nova's secrets (or bring them back to healthy), rotation on for ROTATED."""
    import botocore.exceptions

    for name in SECRETS:
        try:
            answer = sm.describe_secret(SecretId=name)
        except botocore.exceptions.ClientError:
            sm.create_secret(Name=name, SecretString=_value(name), Description=f"Nova {name}")
            answer = sm.describe_secret(SecretId=name)
        if answer.get("DeletedDate"):
            sm.restore_secret(SecretId=name)
        for version, stages in (answer.get("VersionIdsToStages") or {}).items():
            if "AWSPENDING" in stages and "AWSCURRENT" not in stages:
                sm.update_secret_version_stage(SecretId=name, VersionStage="AWSPENDING", RemoveFromVersionId=version)
    # a rotation with no Lambda: moto moves AWSCURRENT to a new version and records LastRotatedDate,
    # NextRotationDate and the schedule, as a finished rotation leaves them
    sm.rotate_secret(SecretId=ROTATED, RotationRules={"AutomaticallyAfterDays": ROTATION_DAYS}, RotateImmediately=False)


def snapshot(sm: Any) -> dict[str, Any]:
    """What the faults change, per secret: exists, scheduled for deletion, a rotation left pending."""
    import botocore.exceptions

    out: dict[str, Any] = {}
    for name in SECRETS:
        try:
            answer = sm.describe_secret(SecretId=name)
        except botocore.exceptions.ClientError as exc:
            from nova_gate.aws import error_code

            out[name] = {"exists": False, "error": error_code(exc)}
            continue
        stages = (answer.get("VersionIdsToStages") or {}).values()
        out[name] = {
            "exists": True,
            "deleted": bool(answer.get("DeletedDate")),
            "pending": any("AWSPENDING" in s and "AWSCURRENT" not in s for s in stages),
            "rotation": bool(answer.get("RotationEnabled")),
        }
    return out


def faults(admin: Any, component: str) -> list[Fault]:
    """Faults in Secrets Manager; ``admin()`` makes the sandbox admin's client."""

    def reset() -> None:
        seed(admin())

    def scheduled_for_deletion() -> None:
        admin().delete_secret(SecretId="nova/prod/database-url", RecoveryWindowInDays=7)

    def gone() -> None:
        admin().delete_secret(SecretId="nova/prod/kafka-sasl", ForceDeleteWithoutRecovery=True)

    def rotation_failed() -> None:
        # what a rotation Lambda leaves when it fails after createSecret: a new version staged
        # AWSPENDING that never became AWSCURRENT
        admin().put_secret_value(SecretId=ROTATED, SecretString=_value(ROTATED), VersionStages=["AWSPENDING"])

    return [
        Fault(
            "secretsmanager-secret-deleted",
            "nova/prod/database-url is scheduled for deletion in Secrets Manager (DeleteSecret, 7-day window)",
            ("PRE-CFG-2",),
            scheduled_for_deletion,
            reset,
            component,
        ),
        Fault(
            "secretsmanager-secret-missing",
            "nova/prod/kafka-sasl is gone from Secrets Manager (force-deleted)",
            ("PRE-CFG-2",),
            gone,
            reset,
            component,
        ),
        Fault(
            "secretsmanager-rotation-failed",
            "the rotation of nova/prod/jwt-signing-key stopped half-way (a version left AWSPENDING)",
            ("PRE-CFG-2",),
            rotation_failed,
            reset,
            component,
        ),
    ]
