"""AWS Secrets Manager through botocore: ``DescribeSecret`` per required secret, metadata only.

The gates' identity needs ``secretsmanager:DescribeSecret`` on Nova's secrets and nothing else:
secret values are never read (no ``GetSecretValue``). A refused identity (AccessDenied, an unknown
key, a bad signature, an expired token, no credentials) is one line: ``secretsmanager: ...:
unauthorised (CODE)``; ``ResourceNotFoundException`` is data (the secret does not exist).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from nova_gate.backends.aws_source import AwsSource
from nova_gate.backends.secret_store import SecretFacts
from nova_gate.backends.secretsmanager.config import SecretsManager

NOT_FOUND = "ResourceNotFoundException"
#: the name the reachability probe asks for (not a secret of Nova's; metadata only, like every call)
PROBE_NAME = "nova-gate/reachability-probe"


def facts_of(name: str, answer: dict[str, Any] | None) -> SecretFacts:
    """SecretFacts from one DescribeSecret answer (None: no such secret)."""
    if answer is None:
        return SecretFacts(name, exists=False)
    stages = answer.get("VersionIdsToStages") or {}
    current = any("AWSCURRENT" in s for s in stages.values())
    pending = any("AWSPENDING" in s and "AWSCURRENT" not in s for s in stages.values())
    enabled = bool(answer.get("RotationEnabled"))
    due = _time(answer.get("NextRotationDate"))
    days = (answer.get("RotationRules") or {}).get("AutomaticallyAfterDays")
    last_rotated = _time(answer.get("LastRotatedDate"))
    if due is None and enabled and days and last_rotated is not None:
        due = last_rotated + dt.timedelta(days=int(days))
    # the value changed at the last rotation or the last change of any kind, whichever is later
    changes = [t for t in (_time(answer.get("LastChangedDate")), last_rotated) if t is not None]
    return SecretFacts(
        name,
        exists=True,
        updated=max(changes) if changes else _time(answer.get("CreatedDate")),
        has_current=current,
        deletion_date=_time(answer.get("DeletedDate")),
        rotation_enabled=enabled,
        rotation_due=due,
        rotation_pending=pending,
    )


def _time(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    return None


class SecretsManagerSource(AwsSource):
    backend = "secretsmanager"
    service = "secretsmanager"
    absent_codes = frozenset({NOT_FOUND})

    def __init__(self, cfg: SecretsManager) -> None:
        super().__init__(cfg)

    def describe(self, name: str) -> dict[str, Any] | None:
        """DescribeSecret's answer; None when the secret does not exist."""
        return self.ask(f"DescribeSecret {name}", "describe_secret", SecretId=name)

    def probe(self) -> None:
        """Reachability only, like S3's: DescribeSecret of a name no secret has. Any answer shows
        the backend answers (ResourceNotFound is data; an AccessDenied from a policy scoped to Nova's
        secret ARNs refuses one privilege and does not mark the backend down, ``auth.refuses_identity``);
        no answer, or a refused identity, marks it down before the first test waits on it."""
        self.ask("probe DescribeSecret", "describe_secret", SecretId=PROBE_NAME)

    def secrets(self, names: list[str]) -> dict[str, SecretFacts]:
        return {name: facts_of(name, self.describe(name)) for name in names}
