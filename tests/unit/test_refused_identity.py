"""Which refusals mark a backend down for the session: the credentials themselves, not one privilege."""

from __future__ import annotations

import pytest

from nova_gate.backends.base import SourceError


@pytest.mark.parametrize(
    ("cause", "down"),
    [
        ("unauthorised (AccessDenied, HTTP 403)", False),  # S3: the gates may not ListBuckets; HeadBucket is next
        ("unauthorised (InvalidAccessKeyId, HTTP 403)", True),
        ("unauthorised (SignatureDoesNotMatch, HTTP 403)", True),
        ("unauthorised (ExpiredToken, HTTP 400)", True),
        ("password authentication failed for user nova_gate_ro", True),
        ("permission denied for table users", False),
    ],
)
def test_only_refused_credentials_are_not_retried(cause: str, down: bool) -> None:
    error = SourceError("s3", "probe", cause)
    assert error.kind == "unauthorised"
    assert error.unreachable is down
