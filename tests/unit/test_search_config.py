"""The search backend's credentials and TLS: one way to authenticate, HTTPS always verified."""

from __future__ import annotations

import base64
import ssl
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from nova_gate.auth import Tls
from nova_gate.backends.base import SourceError
from nova_gate.backends.search.config import Search
from nova_gate.backends.search.source import SearchSource

URL = "https://search.example.internal:9200"


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"username": "u", "password": "p", "api_key": "k"}, "not both"),
        ({"username": "u", "password": "p", "password_file": "/x"}, "give one"),
        ({"api_key": "k", "api_key_file": "/x"}, "give one"),
        ({"password": "p"}, "needs a username"),
        ({"url": "http://search:9200", "tls": {"ca_file": "/ca.pem"}}, "not https"),
    ],
)
def test_contradictions_are_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Search(**{"url": URL, **fields})


def test_basic_auth_header() -> None:
    source = SearchSource(Search(url=URL, username="nova-gate", password=SecretStr("s3cret")))
    header = source._headers()["authorization"]
    assert header == "Basic " + base64.b64encode(b"nova-gate:s3cret").decode()


def test_api_key_from_a_file_is_read_when_used(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("aWQ6a2V5\n")
    source = SearchSource(Search(url=URL, api_key_file=key))
    assert source._headers()["authorization"] == "ApiKey aWQ6a2V5"
    key.write_text("cm90YXRlZA==\n")  # a mounted secret rotates under a running gate
    assert source._headers()["authorization"] == "ApiKey cm90YXRlZA=="


def test_an_unreadable_secret_file_is_a_one_line_source_error(tmp_path: Path) -> None:
    source = SearchSource(Search(url=URL, username="u", password_file=tmp_path / "missing"))
    with pytest.raises(SourceError, match=r"^search: credentials: cannot read secret file .*missing"):
        source._headers()


def test_https_is_verified_with_the_configured_ca_or_the_system_store(tmp_path: Path) -> None:
    from nova_gate.sandbox.pki import LocalCA

    ca = LocalCA(tmp_path / "pki")
    ca.ensure()
    for cfg in (Search(url=URL, tls=Tls(ca_file=ca.cert)), Search(url=URL)):
        source = SearchSource(cfg)
        transport = source.transport
        node = transport.node_pool.all()[0]
        context = node.config.ssl_context
        assert isinstance(context, ssl.SSLContext)
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
        assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
        source.close()


def test_a_black_hole_is_no_answer_not_a_tls_refusal() -> None:
    """A server that accepts and never speaks times the TLS handshake out: unreachable, kind None."""
    import socket
    import time

    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(8)
        port = hole.getsockname()[1]
        source = SearchSource(Search(url=f"https://127.0.0.1:{port}", timeout_s=1))
        started = time.monotonic()
        with pytest.raises(SourceError) as info:
            source.cluster_health()
        source.close()
    assert time.monotonic() - started < 5
    assert info.value.kind is None and info.value.unreachable, str(info.value)
    assert str(info.value) == "search: cluster health: ConnectionTimeout: no answer within 1 s"
