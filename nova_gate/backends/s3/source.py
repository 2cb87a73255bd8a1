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

from nova_gate.backends.aws_source import AwsSource
from nova_gate.backends.base import SourceError
from nova_gate.backends.s3.config import S3


@dataclass(frozen=True)
class BucketFacts:
    name: str
    exists: bool
    public_access_block: dict[str, bool] | None  # None: no configuration at all
    policy: dict[str, Any] | None


class S3Source(AwsSource):
    backend = "s3"
    service = "s3"

    def __init__(self, cfg: S3) -> None:
        super().__init__(cfg)

    def bucket(self, name: str) -> BucketFacts:
        if self.ask(f"HeadBucket {name}", "head_bucket", Bucket=name) is None:
            return BucketFacts(name, False, None, None)
        answer = self.ask(f"GetPublicAccessBlock {name}", "get_public_access_block", Bucket=name)
        pab: dict[str, bool] | None = None
        if answer is not None:
            config = answer.get("PublicAccessBlockConfiguration") or {}
            pab = {str(k): bool(v) for k, v in config.items()}
        answer = self.ask(f"GetBucketPolicy {name}", "get_bucket_policy", Bucket=name)
        policy = None
        if answer is not None:
            try:
                policy = json.loads(answer.get("Policy") or "")
            except ValueError as exc:
                raise SourceError(self.backend, f"{name}: bucket policy is not JSON", exc) from exc
        return BucketFacts(name, True, pab, policy)
