"""Elasticsearch/OpenSearch's config: the cluster URL, credentials and TLS.

    search:
      url: https://search.prod.internal:9200
      username: nova-gate                          # basic auth (OpenSearch's security plugin,
      password: ${NOVA_GATE_SEARCH_PASSWORD}       # Elasticsearch's native realm) ...
      # api_key: ${NOVA_GATE_SEARCH_API_KEY}       # ... or an API key (the encoded ``id:key``)
      tls: {ca_file: /etc/nova-gate/search-ca.pem}  # and a client certificate where asked for

Secrets are ``${ENV}`` references or files (``password_file``, ``api_key_file``), never inline.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr, model_validator

from nova_gate.auth import BasicCredentials, Tls, check_one_credential
from nova_gate.backends.model import Seconds


class Search(BasicCredentials):
    url: str
    #: an API key as Elasticsearch's and OpenSearch's ``Authorization: ApiKey`` header carries it
    api_key: SecretStr | None = None
    api_key_file: Path | None = None
    #: the CA bundle that signs the cluster (unset: the system's trust store) and a client certificate
    tls: Tls | None = None
    timeout_s: Seconds = 10

    @model_validator(mode="after")
    def _one_credential(self) -> Search:
        check_one_credential(self, "api_key", "an api_key")
        if self.tls is not None and not self.url.startswith("https://"):
            raise ValueError("tls is set but the url is not https://")
        return self
