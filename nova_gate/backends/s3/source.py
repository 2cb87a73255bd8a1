"""S3 bucket facts over the S3 REST API (path-style), signed with AWS Signature Version 4.

Read-only: HEAD bucket, GET ?publicAccessBlock, GET ?policy. No SDK: httpx plus the SigV4 rules
(https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from nova_gate.backends.base import Source, SourceError
from nova_gate.backends.s3.config import S3

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sigv4_headers(
    method: str,
    url: str,
    region: str,
    access_key: str,
    secret_key: str,
    now: dt.datetime,
    headers: dict[str, str] | None = None,
    payload_sha256: str = EMPTY_SHA256,
    service: str = "s3",
) -> dict[str, str]:
    """The headers (Authorization, x-amz-date, x-amz-content-sha256) that sign one request."""
    parts = urlsplit(url)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    signed = {k.lower(): " ".join(v.split()) for k, v in (headers or {}).items()}
    signed.update({"host": parts.netloc, "x-amz-date": amz_date, "x-amz-content-sha256": payload_sha256})
    names = sorted(signed)
    query = []
    for pair in parts.query.split("&") if parts.query else []:
        key, _, value = pair.partition("=")
        query.append((quote(key, safe="-_.~"), quote(value, safe="-_.~")))
    canonical = "\n".join(
        [
            method,
            quote(parts.path or "/", safe="/-_.~"),
            "&".join(f"{k}={v}" for k, v in sorted(query)),
            "".join(f"{n}:{signed[n]}\n" for n in names),
            ";".join(names),
            payload_sha256,
        ]
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    signing_key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret_key}".encode(), day), region), service), "aws4_request")
    signature = hmac.new(signing_key, to_sign.encode(), hashlib.sha256).hexdigest()
    return {
        "Authorization": f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={';'.join(names)}, "
        f"Signature={signature}",
        "x-amz-date": amz_date,
        "x-amz-content-sha256": payload_sha256,
    }


@dataclass(frozen=True)
class BucketFacts:
    name: str
    exists: bool
    public_access_block: dict[str, bool] | None  # None: no configuration at all
    policy: dict[str, Any] | None


class S3Source(Source):
    backend = "s3"
    driver_errors = (httpx.HTTPError, OSError)

    def __init__(self, cfg: S3) -> None:
        super().__init__()
        self.cfg = cfg
        self._client = httpx.Client(timeout=cfg.timeout_s, follow_redirects=False)

    def _get(self, bucket: str, query: str = "", method: str = "GET") -> httpx.Response:
        url = f"{self.cfg.endpoint.rstrip('/')}/{bucket}" + (f"?{query}" if query else "")
        secret = self.cfg.secret_access_key.get_secret_value() if self.cfg.secret_access_key else ""
        headers = sigv4_headers(method, url, self.cfg.region, self.cfg.access_key_id, secret, dt.datetime.now(dt.UTC))
        with self.call(f"{method} {bucket}{'?' + query if query else ''}"):
            response = self._client.request(method, url, headers=headers)
        if response.status_code == 403:
            raise SourceError(self.backend, f"{method} {bucket}: access denied (403)")
        if response.status_code >= 500:
            raise SourceError(self.backend, f"{method} {bucket}: server error {response.status_code}")
        return response

    def bucket(self, name: str) -> BucketFacts:
        if self._get(name, method="HEAD").status_code == 404:
            return BucketFacts(name, False, None, None)
        pab_response = self._get(name, "publicAccessBlock")
        pab: dict[str, bool] | None = None
        if pab_response.status_code == 200:
            try:
                root = ET.fromstring(pab_response.text)
            except ET.ParseError as exc:
                raise SourceError(self.backend, f"{name}: publicAccessBlock is not XML", exc) from exc
            pab = {child.tag.split("}")[-1]: (child.text or "").strip().lower() == "true" for child in root}
        policy_response = self._get(name, "policy")
        policy = None
        if policy_response.status_code == 200:
            try:
                policy = json.loads(policy_response.text)
            except ValueError as exc:
                raise SourceError(self.backend, f"{name}: bucket policy is not JSON", exc) from exc
        return BucketFacts(name, True, pab, policy)

    def close(self) -> None:
        self._client.close()
