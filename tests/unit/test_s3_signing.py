"""SigV4 against AWS's own worked example (GET Object, S3 API reference)."""

import datetime as dt

from nova_gate.backends.s3.source import EMPTY_SHA256, sigv4_headers


def test_signature_matches_the_aws_documentation_example():
    headers = sigv4_headers(
        "GET",
        "https://examplebucket.s3.amazonaws.com/test.txt",
        "us-east-1",
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        dt.datetime(2013, 5, 24, tzinfo=dt.UTC),
        headers={"Range": "bytes=0-9"},
        payload_sha256=EMPTY_SHA256,
    )
    assert headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )
