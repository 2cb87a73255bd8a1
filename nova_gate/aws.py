"""AWS clients through botocore: the standard credential chain and botocore's own SigV4 signing.

Credentials are whatever botocore's chain finds, in its order: static keys given in the
environment file (with an optional session token), the ``AWS_*`` environment variables, a
web-identity token file (``AWS_WEB_IDENTITY_TOKEN_FILE`` + ``AWS_ROLE_ARN``: IRSA, GitHub/GitLab
OIDC — exchanged with STS for session credentials), the shared config and credentials files and
their profile (``profile``, ``credential_process``, SSO, ``role_arn`` + ``source_profile``),
container and instance metadata. Nothing here signs or refreshes by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nova_gate.auth import AWS_REFUSAL_CODES


@dataclass(frozen=True, kw_only=True)
class AwsSettings:
    """What an environment file may say about AWS access (all optional; the chain does the rest)."""

    region: str = "us-east-1"
    endpoint: str | None = None
    profile: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None
    config_file: Path | None = None
    credentials_file: Path | None = None
    timeout_s: float = 10

    def __repr__(self) -> str:  # never the secret or the token
        return f"AwsSettings(region={self.region!r}, endpoint={self.endpoint!r}, profile={self.profile!r})"


def session(settings: AwsSettings) -> Any:
    """A botocore session whose credential chain starts from ``settings``."""
    import botocore.session

    sess = botocore.session.Session()
    if settings.config_file is not None:
        sess.set_config_variable("config_file", str(settings.config_file))
    if settings.credentials_file is not None:
        sess.set_config_variable("credentials_file", str(settings.credentials_file))
    if settings.profile:
        sess.set_config_variable("profile", settings.profile)
    if settings.access_key_id and settings.secret_access_key:
        sess.set_credentials(settings.access_key_id, settings.secret_access_key, settings.session_token)
    return sess


def client(service: str, settings: AwsSettings, **config: Any) -> Any:
    """A botocore client with short timeouts, no retries (the gate fails fast), path-style S3."""
    import botocore.config

    cfg = botocore.config.Config(
        connect_timeout=settings.timeout_s,
        read_timeout=settings.timeout_s,
        retries={"total_max_attempts": 1, "mode": "standard"},  # the first attempt only ("max_attempts" counts retries)
        s3={"addressing_style": "path"},
        **config,
    )
    return session(settings).create_client(
        service, region_name=settings.region, endpoint_url=settings.endpoint or None, config=cfg
    )


def error_code(exc: BaseException) -> str:
    """``AccessDenied``, ``NoSuchBucket``, ... of a botocore ClientError ("" otherwise)."""
    response = getattr(exc, "response", None) or {}
    return str((response.get("Error") or {}).get("Code") or "")


def status_code(exc: BaseException) -> int:
    response = getattr(exc, "response", None) or {}
    return int((response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)


#: error codes that mean the identity or one of its privileges was refused (not a fact about the
#: bucket or the secret): ``nova_gate.auth``'s table, with the codes that refuse who we are
UNAUTHORISED = AWS_REFUSAL_CODES


def is_unauthorised(exc: BaseException) -> bool:
    return error_code(exc) in UNAUTHORISED or status_code(exc) in (401, 403)
