"""AWS Secrets Manager's config: region, optional endpoint, and where the AWS credential chain starts
(the same fields as S3's: ``nova_gate.aws``)."""

from __future__ import annotations

from nova_gate.backends.s3.config import S3


class SecretsManager(S3):
    """Secrets Manager through botocore; nothing is required beyond the region (the chain finds the
    credentials). ``endpoint`` only for a stand-in (moto) or a VPC endpoint."""
