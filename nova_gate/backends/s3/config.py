"""S3's config: region, optional endpoint, and where the standard AWS credential chain starts.

Nothing is required beyond the region: botocore's chain finds the credentials (environment, a
web-identity token file, the shared files and their profile, container or instance metadata).
Static keys (and a session token) may still be given, the secret parts only as ``${ENV}``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr, model_validator

from nova_gate.backends.model import Model, Seconds


class S3(Model):
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
    timeout_s: Seconds = 10

    @model_validator(mode="after")
    def _keys_go_together(self) -> S3:
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError("access_key_id and secret_access_key go together")
        if self.session_token is not None and self.access_key_id is None:
            raise ValueError("session_token needs access_key_id and secret_access_key")
        return self

    def aws_settings(self) -> object:
        from nova_gate.aws import AwsSettings

        def secret(value: SecretStr | None) -> str | None:
            return value.get_secret_value() if value is not None else None

        return AwsSettings(
            region=self.region,
            endpoint=self.endpoint,
            profile=self.profile,
            access_key_id=self.access_key_id,
            secret_access_key=secret(self.secret_access_key),
            session_token=secret(self.session_token),
            config_file=self.config_file,
            credentials_file=self.credentials_file,
            timeout_s=self.timeout_s,
        )
