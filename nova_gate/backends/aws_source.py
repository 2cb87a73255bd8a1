"""The one botocore seam of the AWS backends (S3, Secrets Manager): a lazily made client through
the standard credential chain (``nova_gate.aws``) and ONE error table for their calls.

- a refused identity (AccessDenied, an unknown key, a bad signature, an expired token, no
  credentials in the chain) is a SourceError ``<backend>: ...: unauthorised (CODE, HTTP n)``;
- "it does not exist" (HTTP 404, or a service's own code such as ``ResourceNotFoundException``) is
  data: ``ask`` returns None and the rule decides;
- anything else is a one-line SourceError with the service's code.
"""

from __future__ import annotations

from typing import Any

from nova_gate import aws
from nova_gate.backends.base import Source, SourceError


class AwsSource(Source):
    """A Source over one AWS API. Subclasses set ``backend``, ``service`` and ``absent_codes``."""

    service = ""
    #: error codes that mean "no such thing" besides HTTP 404
    absent_codes: frozenset[str] = frozenset()

    def __init__(self, cfg: Any) -> None:
        super().__init__()
        import botocore.exceptions

        self.cfg = cfg
        self.driver_errors = (botocore.exceptions.BotoCoreError, OSError)
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            settings = self.cfg.aws_settings()
            assert isinstance(settings, aws.AwsSettings)
            with self.call(f"create the {self.service} client"):
                self._client = aws.client(self.service, settings)
        return self._client

    def ask(self, what: str, operation: str, **params: Any) -> dict[str, Any] | None:
        """One call; None when the answer says the thing does not exist."""
        import botocore.exceptions

        client = self.client
        with self.call(what):
            try:
                answer: dict[str, Any] = getattr(client, operation)(**params)
                return answer
            except botocore.exceptions.NoCredentialsError as exc:
                raise SourceError(self.backend, what, "unauthorised: no AWS credentials found in the chain") from exc
            except botocore.exceptions.ClientError as exc:
                code, status = aws.error_code(exc) or "?", aws.status_code(exc)
                if aws.is_unauthorised(exc):
                    raise SourceError(self.backend, what, f"unauthorised ({code}, HTTP {status})") from exc
                if status == 404 or code in self.absent_codes:
                    return None
                raise SourceError(self.backend, what, f"{code} (HTTP {status})") from exc

    def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            client.close()
