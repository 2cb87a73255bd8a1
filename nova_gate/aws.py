"""AWS clients through botocore: the standard credential chain and botocore's own SigV4 signing.

Credentials are whatever botocore's chain finds, in its order: static keys given in the
environment file (with an optional session token), the ``AWS_*`` environment variables, a
web-identity token file (``AWS_WEB_IDENTITY_TOKEN_FILE`` + ``AWS_ROLE_ARN``: IRSA, GitHub/GitLab
OIDC — exchanged with STS for session credentials), the shared config and credentials files and
their profile (``profile``, ``credential_process``, SSO, ``role_arn`` + ``source_profile``),
container and instance metadata. Nothing here signs or refreshes by hand.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from nova_gate.auth import AWS_REFUSAL_CODES


class AwsSettings(BaseModel):
    """What an environment file may say about AWS access (all optional; the chain does the rest).

    The S3 and Secrets Manager backends' config models are this model; the secret parts are
    ``SecretStr`` (``${ENV}`` references in a file), never in a repr.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    #: only for an S3-compatible store or a stand-in; AWS's own endpoint is botocore's choice
    endpoint: str | None = None
    region: str = "us-east-1"
    #: a profile of the shared config/credentials files
    profile: str | None = None
    config_file: Path | None = None
    credentials_file: Path | None = None
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    session_token: SecretStr | None = None
    timeout_s: Annotated[float, Field(gt=0, le=3600)] = 10

    @model_validator(mode="after")
    def _keys_go_together(self) -> AwsSettings:
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError("access_key_id and secret_access_key go together")
        if self.session_token is not None and self.access_key_id is None:
            raise ValueError("session_token needs access_key_id and secret_access_key")
        return self

    def __repr__(self) -> str:  # never the secret or the token
        return f"{type(self).__name__}(region={self.region!r}, endpoint={self.endpoint!r}, profile={self.profile!r})"

    def aws_settings(self) -> AwsSettings:
        return self


def _reveal(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


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
    secret = _reveal(settings.secret_access_key)
    if settings.access_key_id and secret:
        sess.set_credentials(settings.access_key_id, secret, _reveal(settings.session_token))
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
    """``AccessDenied``, ``NoSuchBucket``, ... of a botocore ClientError ("" otherwise).

    An XML error body sent to a JSON-protocol client (moto's IAM layer answers every service so)
    leaves botocore with the HTTP status as the code; the body's own ``<Code>`` is used then."""
    response = getattr(exc, "response", None) or {}
    code = str((response.get("Error") or {}).get("Code") or "")
    if code.isdigit():
        inner = _XML_CODE.search(str(exc))
        if inner:
            return inner.group(1)
    return code


_XML_CODE = re.compile(r"<Code>([A-Za-z][A-Za-z0-9.]{0,63})</Code>")


def status_code(exc: BaseException) -> int:
    response = getattr(exc, "response", None) or {}
    return int((response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)


#: error codes that mean the identity or one of its privileges was refused (not a fact about the
#: bucket or the secret): ``nova_gate.auth``'s table, with the codes that refuse who we are
UNAUTHORISED = AWS_REFUSAL_CODES


def is_unauthorised(exc: BaseException) -> bool:
    return error_code(exc) in UNAUTHORISED or status_code(exc) in (401, 403)
