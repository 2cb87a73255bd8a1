"""The S3 requests are signed by botocore (no hand-written SigV4): held to AWS's own worked example.

The example is "GET Object" of the S3 API reference's SigV4 header-based authentication page
(examplebucket, 2013-05-24, the documented key pair); its published signature is f0e8bdb8....
The sandbox's moto server checks the signature of every request independently.
"""

import datetime as dt

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def test_botocore_signs_the_aws_documentation_example(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: dt.datetime(2013, 5, 24))
    request = AWSRequest(
        method="GET",
        url="https://examplebucket.s3.amazonaws.com/test.txt",
        headers={"Range": "bytes=0-9"},
    )
    credentials = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    botocore.auth.S3SigV4Auth(credentials, "s3", "us-east-1").add_auth(request)
    assert request.headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


def test_the_s3_source_has_no_signing_of_its_own() -> None:
    import nova_gate.backends.s3.source as source

    assert not hasattr(source, "sigv4_headers")
