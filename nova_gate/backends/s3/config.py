"""S3's config: region, optional endpoint, and where the standard AWS credential chain starts.

Nothing is required beyond the region: botocore's chain finds the credentials (environment, a
web-identity token file, the shared files and their profile, container or instance metadata).
Static keys (and a session token) may still be given, the secret parts only as ``${ENV}``.
"""

from __future__ import annotations

from nova_gate.aws import AwsSettings


class S3(AwsSettings):
    """S3 through botocore (the fields and their rules: ``nova_gate.aws.AwsSettings``)."""
