"""S3 bucket facts through botocore: the standard AWS credential chain, botocore's own SigV4.

Read-only: HeadBucket, GetPublicAccessBlock, GetBucketPolicy — the gates' IAM policy needs
``s3:ListBucket``, ``s3:GetBucketPublicAccessBlock`` and ``s3:GetBucketPolicy`` on the buckets.
A refused identity (AccessDenied, an unknown key, a bad signature, an expired token, no
credentials at all) is one line: ``s3: ...: unauthorised (CODE)``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from nova_gate import aws
from nova_gate.backends.base import Source, SourceError
from nova_gate.backends.s3.config import S3


@dataclass(frozen=True)
class BucketFacts:
    name: str
    exists: bool
    public_access_block: dict[str, bool] | None  # None: no configuration at all
    policy: dict[str, Any] | None


class S3Source(Source):
    backend = "s3"

    def __init__(self, cfg: S3) -> None:
        super().__init__()
        import botocore.exceptions

        self.cfg = cfg
        self.driver_errors = (botocore.exceptions.BotoCoreError, OSError)
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            settings = self.cfg.aws_settings()
            assert isinstance(settings, aws.AwsSettings)
            with self.call("create the S3 client"):
                self._client = aws.client("s3", settings)
        return self._client

    def _ask(self, what: str, operation: str, **params: Any) -> dict[str, Any] | None:
        """One call; None when the answer is a 404 (no such bucket / configuration / policy)."""
        import botocore.exceptions

        client = self.client
        with self.call(what):
            try:
                answer: dict[str, Any] = getattr(client, operation)(**params)
                return answer
            except botocore.exceptions.NoCredentialsError as exc:
                raise SourceError(self.backend, what, "unauthorised: no AWS credentials found in the chain") from exc
            except botocore.exceptions.ClientError as exc:
                code, status = aws.error_code(exc) or "?", aws.status_code(exc)
                if aws.is_unauthorised(exc):
                    raise SourceError(self.backend, what, f"unauthorised ({code}, HTTP {status})") from exc
                if status == 404:
                    return None
                raise SourceError(self.backend, what, f"{code} (HTTP {status})") from exc

    def bucket(self, name: str) -> BucketFacts:
        if self._ask(f"HeadBucket {name}", "head_bucket", Bucket=name) is None:
            return BucketFacts(name, False, None, None)
        answer = self._ask(f"GetPublicAccessBlock {name}", "get_public_access_block", Bucket=name)
        pab: dict[str, bool] | None = None
        if answer is not None:
            config = answer.get("PublicAccessBlockConfiguration") or {}
            pab = {str(k): bool(v) for k, v in config.items()}
        answer = self._ask(f"GetBucketPolicy {name}", "get_bucket_policy", Bucket=name)
        policy = None
        if answer is not None:
            try:
                policy = json.loads(answer.get("Policy") or "")
            except ValueError as exc:
                raise SourceError(self.backend, f"{name}: bucket policy is not JSON", exc) from exc
        return BucketFacts(name, True, pab, policy)

    def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            client.close()
